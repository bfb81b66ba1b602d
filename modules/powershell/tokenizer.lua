--- powershell.tokenizer — PowerShell's tokenizer, for the part of the language runbook sends
-- (modules/powershell.lua) and reads (modules/powershell/reads.lua, the Lync emulator).
--
-- Written from the PowerShell language specification (chapter 2, lexical structure) and
-- PowerShell's own tokenizer (tokenizer.cs: NextToken, ScanIdentifier, ScanParameter,
-- ScanGenericToken, ScanStringLiteral; CharTraits.cs). Like PowerShell's, it scans one
-- token at a time in a mode the parser chooses (modules/powershell/parser.lua):
--   "statement"  command mode where a statement or pipeline begins
--   "argument"   command mode between a command's arguments
--   "expression" expression mode: after an operator, inside method arguments, member names
-- In command mode a word does not end at a quote: PowerShell keeps scanning a generic token
-- until whitespace, a newline or one of & ( ) , ; { } |, and appends a quoted string's
-- content, so `Get-X'\..\cmd.exe'` is ONE word, the command name Get-X\..\cmd.exe.
--
-- Whatever could mean something this tokenizer does not model is a ParserError, never a
-- guess: double-quoted and here-strings, `$` or a backtick inside a word, comments, the
-- call operator, || and redirections, and every control or Unicode space character
-- outside a string. A newline is LF, CR or CRLF (language spec §2.2.2): a lone CR ends a
-- statement. PowerShell takes U+0085, U+2028, U+2029 and the other Unicode spaces for
-- whitespace; here they are refused, like vertical tab, form feed, NUL and the other
-- controls. Inside a single-quoted string every character is itself (§2.3.5.2): only a
-- quote ends it, and two quotes in a row stand for the second of them.
local M = {}

-- The single quotes (' and U+2018-U+201B) and double quotes (" and U+201C-U+201E).
M.SINGLE_QUOTES = { ["'"] = true, ["\u{2018}"] = true, ["\u{2019}"] = true,
                    ["\u{201A}"] = true, ["\u{201B}"] = true }
M.DOUBLE_QUOTES = { ['"'] = true, ["\u{201C}"] = true, ["\u{201D}"] = true,
                    ["\u{201E}"] = true }

--- fail(message, position): raises the ParserError every caller catches.
function M.fail(message, position)
  error({ parse_error = true, message = ("ParserError at character %d: %s")
                                          :format(position, message) }, 0)
end
local fail = M.fail

-- The UTF-8 character of text at byte i (nil at the end).
local function char_at(text, i)
  local b = text:byte(i)
  if not b then return nil end
  local len = b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
  return text:sub(i, i + len - 1)
end
M.char_at = char_at

local function describe(c)
  local code = utf8.codepoint(c, 1, 1, true)
  if code < 0x20 or code == 0x7F or code >= 0x80 then return ("U+%04X"):format(code) end
  return ("'%s'"):format(c)
end

-- Characters that end a generic token (CharTraits ForceStartNewToken, ASCII part): NUL,
-- whitespace, newlines and & ( ) , ; { } |.
local ENDS_WORD = {}
for c in ("\0\t\n\v\f\r &(),;{|}"):gmatch(".") do ENDS_WORD[c] = true end

-- A control character (C0, DEL) that is not a tab or a newline: refused outside strings.
local function is_stray_control(c)
  local b = c:byte()
  return #c == 1 and (b < 0x20 or b == 0x7F) and c ~= "\t" and c ~= "\n" and c ~= "\r"
end

--- read_string(text, i) -> value, next_i: the single-quoted string whose opening quote is
-- at i (ScanStringLiteral).
function M.read_string(text, i)
  local out, j = {}, i + #char_at(text, i)
  while true do
    local c = char_at(text, j)
    if not c then fail("the string is missing its terminator", i) end
    j = j + #c
    if M.SINGLE_QUOTES[c] then
      local after = char_at(text, j)
      if not (after and M.SINGLE_QUOTES[after]) then return table.concat(out), j end
      out[#out + 1] = after
      j = j + #after
    else
      out[#out + 1] = c
    end
  end
end

-- The rest of a generic token from i (ScanGenericToken): up to whitespace, a newline or one
-- of & ( ) , ; { } |, single-quoted parts appended by their content. -> text, next_i, quoted
local function read_word_rest(text, i, out)
  local quoted = false
  while true do
    local c = char_at(text, i)
    if c == nil or ENDS_WORD[c] then return table.concat(out), i, quoted end
    if M.SINGLE_QUOTES[c] then
      local value, next_i = M.read_string(text, i)
      out[#out + 1], i, quoted = value, next_i, true
    elseif M.DOUBLE_QUOTES[c] then
      fail("a double-quoted string inside a word is expanded by PowerShell", i)
    elseif c == "$" then
      fail("a $ inside a word is expanded by PowerShell", i)
    elseif c == "`" then
      fail("a backtick escape inside a word is not supported", i)
    elseif #c > 1 or is_stray_control(c) then
      fail(("the character %s inside a word is not supported"):format(describe(c)), i)
    else
      out[#out + 1], i = c, i + 1
    end
  end
end

-- Whether a number or variable may end at i: the end, whitespace, a newline or ; , ) } . =
local function ends_value(text, i, extra)
  local c = text:sub(i, i)
  return c == "" or (" \t\r\n;,)}"):find(c, 1, true) ~= nil
         or (extra ~= nil and extra:find(c, 1, true) ~= nil)
end

local function read_number(text, i)
  local number, next_i = text:match("^(%-?%d+%.?%d*)()", i)
  if number:sub(-1) == "." then
    number, next_i = number:sub(1, -2), next_i - 1
  end
  local exponent, after = text:match("^([eE][%-+]?%d+)()", next_i)
  if exponent then number, next_i = number .. exponent, after end
  if not ends_value(text, next_i) then
    fail("a number glued to other characters is not supported", i)
  end
  local value = math.tointeger(tonumber(number)) or tonumber(number)
  if value == nil then fail("bad number " .. number, i) end
  return value, next_i
end

local function read_variable(text, i)
  local name, next_i = text:match("^%$([%a_][%w_]*)()", i)
  if not name then
    fail("only a plain variable like $name is supported after $", i)
  end
  if not ends_value(text, next_i, ".=") then
    fail(("the variable $%s is glued to %s"):format(name, describe(char_at(text, next_i))), i)
  end
  return name, next_i
end

-- A parameter in command mode (ScanParameter): -Name or -Name: ; -> kind, name, next_i
local function read_parameter(text, i)
  local j, name = i + 1, {}
  while true do
    local c = char_at(text, j)
    if c == nil or c == " " or c == "\t" or ("{}();,|&.[\r\n\0"):find(c, 1, true) then break end
    if c == ":" then return "param:", table.concat(name), j + 1 end
    if M.SINGLE_QUOTES[c] or M.DOUBLE_QUOTES[c] then
      fail("a parameter glued to a quote is a word to PowerShell: not supported", i)
    end
    name[#name + 1] = c
    j = j + #c
  end
  return "param", table.concat(name), j
end

local scanners = {}

scanners["'"] = function(text, i)
  local value, next_i = M.read_string(text, i)
  return "string", value, next_i
end

scanners["$"] = function(text, i)
  local name, next_i = read_variable(text, i)
  return "variable", name, next_i
end

scanners["@"] = function(text, i)
  local two = text:sub(i, i + 1)
  if two == "@(" or two == "@{" then return two, two, i + 2 end
  fail("here-strings and splatting (@) are not supported", i)
end

scanners["-"] = function(text, i, mode)
  local after = text:sub(i + 1, i + 1)
  if after:match("%d") then
    return "number", read_number(text, i)
  elseif mode == "expression" and after:match("%a") then
    local name, next_i = text:match("^%-(%a+)()", i)
    return "operator", name, next_i
  elseif after:match("[%a_]") then
    local kind, name, next_i = read_parameter(text, i)
    if not name:match("^[%a_][%w_]*$") then
      fail(("-%s is not a plain parameter name"):format(name), i)
    end
    return kind, name, next_i
  end
  fail("a - that starts no parameter is not supported", i)
end

scanners["["] = function(text, i, mode)
  local name, next_i = text:match("^%[([%a][%w%.]*)%]()", i)
  if not name then                                  -- an array type: [string[]]
    name, next_i = text:match("^%[([%a][%w%.]*%[%])%]()", i)
  end
  if mode == "argument" or not name then
    fail("a type name like [ordered] was expected", i)
  end
  return "type", name, next_i
end

scanners["="] = function(text, i, mode)
  if mode == "argument" or text:sub(i + 1, i + 1) == "=" then
    fail("unexpected '='", i)
  end
  return "=", "=", i + 1
end

-- Words: an identifier; in command mode the generic token it begins (ScanIdentifier).
local function scan_word(text, i, mode)
  local identifier, next_i = text:match("^([%a_][%w_]*)()", i)
  local c = char_at(text, next_i)
  if mode == "expression" or c == nil or ENDS_WORD[c] then
    return "word", identifier, next_i, { bare = true }
  end
  local value, after, quoted = read_word_rest(text, next_i, { identifier })
  return "word", value, after, { quoted = quoted }
end

local REFUSED = {
  ['"'] = "double-quoted strings are not supported",
  ["#"] = "comments are not supported",
  ["<"] = "comments and redirections are not supported",
  [">"] = "redirections are not supported",
  ["&"] = "the call operator & and && are not supported",
  ["`"] = "backtick escapes are not supported",
  ["."] = "dot-sourcing and words that begin with a dot are not supported",
  [":"] = "labels and :: are not supported here",
}

-- One token at text[i], i at no whitespace. -> kind, value, next_i, extra fields
local function scan_at(text, i, mode)
  local c = char_at(text, i)
  if c == nil then return "eof", nil, i end
  if c == "\n" or c == ";" then return "sep", c, i + 1 end
  if c == "\r" then return "sep", "\n", text:sub(i + 1, i + 1) == "\n" and i + 2 or i + 1 end
  if M.SINGLE_QUOTES[c] then return scanners["'"](text, i) end
  if M.DOUBLE_QUOTES[c] then fail(REFUSED['"'], i) end
  if #c > 1 or is_stray_control(c) then
    fail(("the character %s outside a string is not supported"):format(describe(c)), i)
  end
  if c:match("[(){},]") then return c, c, i + 1 end
  if c == "|" then
    if text:sub(i + 1, i + 1) == "|" then fail("the chain operator || is not supported", i) end
    return "|", "|", i + 1
  end
  if REFUSED[c] then fail(REFUSED[c], i) end
  if scanners[c] then return scanners[c](text, i, mode) end
  if c:match("%d") then return "number", read_number(text, i) end
  if c:match("[%a_]") then return scan_word(text, i, mode) end
  fail(("unexpected character %s"):format(describe(c)), i)
end

--- scan(text, i, mode) -> token {kind=, value=, pos=, next=, spaced=, bare=, quoted=}
-- The token after any spaces and tabs from byte i; spaced says whether there were some.
-- kinds: sep (value "\n" or ";"), string, word, number, variable, param, param:, operator,
-- type, ( ) { } , | = @( @{, eof.
function M.scan(text, i, mode)
  local start = text:match("^[ \t]*()", i)
  local kind, value, next_i, extra = scan_at(text, start, mode)
  local token = { kind = kind, value = value, pos = start, next = next_i,
                  spaced = start > i }
  for key, flag in pairs(extra or {}) do token[key] = flag end
  return token
end

--- member(text, i) -> name, next_i | nil: a member access .Name glued to what precedes
-- (whitespace is not allowed before it, as in PowerShell's GetMemberAccessOperator).
function M.member(text, i)
  return text:match("^%.([%a_][%w_]*)()", i)
end

--- static(text, i) -> name, next_i | nil: ::Name glued to a type.
function M.static(text, i)
  return text:match("^::([%a_][%w_]*)()", i)
end

return M
