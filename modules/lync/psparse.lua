--- lync.psparse — a parser for the restricted PowerShell that modules/powershell.lua
-- generates, for the Lync cmdlet emulator (modules/lync/emulator.lua).
--
-- It is a real tokenizer and recursive-descent parser of that grammar, written from the
-- PowerShell language specification, not a search for strings: what it cannot parse is a
-- ParserError, exactly as a script the generator should never produce. The grammar:
--   script    := statements
--   statement := 'try' block 'catch' block | 'exit' [expr] | $var '=' pipeline | pipeline
--   pipeline  := command | expr          command := Verb-Noun { -Param[:] [arg] | arg }
--   expr      := postfix { ',' postfix }  postfix := primary { '.' Name [ args ] }
--   primary   := 'string' | number | $var | @( statements ) | @{ key = expr; ... }
--              | ( pipeline ) | [type] primary | [type] '::' Name [ args ] | '-join' postfix
--   args      := '(' [ expr ] ')'
-- The static members and -join serve the bootstrap that reads a long script from stdin
-- (modules/powershell.lua).
-- Single-quoted strings end at any of ' U+2018 U+2019 U+201A U+201B; two in a row are one
-- literal quote. Double-quoted strings, here-strings, comments, backticks, pipes and
-- redirections are not part of the grammar.
local M = {}

local QUOTE = { ["'"] = true, ["\u{2018}"] = true, ["\u{2019}"] = true,
                ["\u{201A}"] = true, ["\u{201B}"] = true }

local function parse_error(message, position)
  error({ parse_error = true, message = ("ParserError at character %d: %s")
                                          :format(position, message) }, 0)
end

-- The next UTF-8 character of text at byte i.
local function char_at(text, i)
  local b = text:byte(i)
  if not b then return nil end
  local len = b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
  return text:sub(i, i + len - 1)
end

local function read_string(text, i)
  local out, j = {}, i + #char_at(text, i)
  while true do
    local c = char_at(text, j)
    if not c then parse_error("the string is missing its terminator", i) end
    if QUOTE[c] then
      local after = char_at(text, j + #c)
      if after and QUOTE[after] then
        out[#out + 1] = c
        j = j + #c + #after
      else
        return { kind = "string", value = table.concat(out), pos = i }, j + #c
      end
    else
      out[#out + 1] = c
      j = j + #c
    end
  end
end

--- tokens(text) -> list of {kind=, value=, pos=}
function M.tokens(text)
  local list, i = {}, 1
  local function push(kind, value, next_i)
    list[#list + 1] = { kind = kind, value = value, pos = i }
    i = next_i
  end
  while i <= #text do
    local c = char_at(text, i)
    local two = text:sub(i, i + 1)
    if c == " " or c == "\t" or c == "\r" then i = i + 1
    elseif c == "\n" or c == ";" then push("sep", c, i + 1)
    elseif QUOTE[c] then
      local token, next_i = read_string(text, i)
      list[#list + 1] = token
      i = next_i
    elseif two == "@(" or two == "@{" or two == "::" then push(two, two, i + 2)
    elseif c:match("^[{}(),=|.]$") then push(c, c, i + 1)
    elseif c == "[" then
      local name, next_i = text:match("^%[([%a][%w%.]*)%]()", i)
      if not name then parse_error("a type name like [ordered] was expected", i) end
      push("type", name, next_i)
    elseif c == "$" then
      local name, next_i = text:match("^%$([%a_][%w_]*)()", i)
      if not name then parse_error("a variable name was expected after $", i) end
      push("variable", name, next_i)
    elseif text:match("^%-?%d", i) then
      local number, next_i = text:match("^(%-?%d+%.?%d*[eE]?[%-+]?%d*)()", i)
      local value = math.tointeger(tonumber(number)) or tonumber(number)
      if value == nil then parse_error("bad number " .. number, i) end
      push("number", value, next_i)
    elseif text:match("^%-%a", i) then
      local name, colon, next_i = text:match("^%-([%a][%w]*)(:?)()", i)
      push(colon == ":" and "param:" or "param", name, next_i)
    elseif c:match("^[%a_]$") then
      local word, next_i = text:match("^([%a_][%w_%-]*)()", i)
      push("word", word, next_i)
    else
      parse_error(("unexpected character %q"):format(c), i)
    end
  end
  list[#list + 1] = { kind = "eof", pos = #text + 1 }
  return list
end

--- parse(text) -> AST {kind="script", body={statements...}}; raises {parse_error=true, message=}
function M.parse(text)
  local tokens, at = M.tokens(text), 1
  local function peek(offset) return tokens[at + (offset or 0)] end
  local function take() at = at + 1; return tokens[at - 1] end
  local function expect(kind)
    local token = take()
    if token.kind ~= kind then
      parse_error(("'%s' expected, found '%s'"):format(kind, tostring(token.value or token.kind)),
                  token.pos)
    end
    return token
  end

  local statements, pipeline, expr, postfix

  local function block()
    expect("{")
    local body = statements("}")
    expect("}")
    return body
  end

  local function hashtable()
    local pairs_list = {}
    while true do
      while peek().kind == "sep" do take() end
      if peek().kind == "}" then break end
      local key = take()
      if key.kind ~= "word" and key.kind ~= "string" then
        parse_error("a hashtable key was expected", key.pos)
      end
      expect("=")
      pairs_list[#pairs_list + 1] = { key = key.value, value = expr() }
      if peek().kind ~= "sep" and peek().kind ~= "}" then
        parse_error("';' or '}' expected in a hashtable", peek().pos)
      end
    end
    expect("}")
    return { kind = "hashtable", pairs = pairs_list }
  end

  local function primary()
    local token = take()
    if token.kind == "string" or token.kind == "number" then
      return { kind = "literal", value = token.value }
    elseif token.kind == "variable" then
      return { kind = "variable", name = token.value }
    elseif token.kind == "@(" then
      local body = statements(")")
      expect(")")
      return { kind = "array", body = body }
    elseif token.kind == "@{" then
      return hashtable()
    elseif token.kind == "(" then
      local inner = pipeline()
      expect(")")
      return { kind = "paren", inner = inner }
    elseif token.kind == "type" and peek().kind == "::" then
      take()
      return { kind = "static", type = token.value, name = expect("word").value }
    elseif token.kind == "type" then
      return { kind = "cast", type = token.value, value = primary() }
    elseif token.kind == "param" and token.value:lower() == "join" then
      return { kind = "join", value = postfix() }
    end
    parse_error(("unexpected '%s'"):format(tostring(token.value or token.kind)), token.pos)
  end

  -- ( [expr] ) after a method name -> the argument nodes
  local function arguments()
    expect("(")
    if peek().kind == ")" then take(); return {} end
    local list = expr()
    expect(")")
    return list.kind == "list" and list.items or { list }
  end

  function postfix()
    local node = primary()
    if node.kind == "static" and peek().kind == "(" then
      node = { kind = "call", type = node.type, name = node.name, args = arguments() }
    end
    while peek().kind == "." do
      take()
      local name = expect("word").value
      if peek().kind == "(" then
        node = { kind = "call", object = node, name = name, args = arguments() }
      else
        node = { kind = "member", object = node, name = name }
      end
    end
    return node
  end

  function expr()
    local first = postfix()
    if peek().kind ~= "," then return first end
    local items = { first }
    while peek().kind == "," do
      take()
      items[#items + 1] = postfix()
    end
    return { kind = "list", items = items }
  end

  local ENDS = { sep = true, ["}"] = true, [")"] = true, eof = true }

  local function command()
    local name = take().value
    local node = { kind = "command", name = name, named = {}, order = {}, positional = {} }
    while not ENDS[peek().kind] do
      local token = peek()
      if token.kind == "|" then parse_error("pipelines are not supported", token.pos) end
      if token.kind == "param" or token.kind == "param:" then
        take()
        local value = { kind = "literal", value = true }
        if token.kind == "param:" or not (ENDS[peek().kind] or peek().kind == "param"
                                          or peek().kind == "param:") then
          value = expr()
        end
        if node.named[token.value] then
          parse_error("parameter -" .. token.value .. " given twice", token.pos)
        end
        node.named[token.value] = value
        node.order[#node.order + 1] = token.value
      elseif token.kind == "word" then   -- argument mode: a bareword is a string
        take()
        node.positional[#node.positional + 1] = { kind = "literal", value = token.value }
      else
        node.positional[#node.positional + 1] = expr()
      end
    end
    return node
  end

  function pipeline()
    local node
    if peek().kind == "word" and peek().value:find("-", 1, true) then node = command()
    else node = expr() end
    if peek().kind == "|" then parse_error("pipelines are not supported", peek().pos) end
    return node
  end

  local function statement()
    local token = peek()
    if token.kind == "word" and token.value == "try" then
      take()
      local body = block()
      while peek().kind == "sep" and peek().value == "\n" do take() end
      local catch_word = expect("word")
      if catch_word.value ~= "catch" then parse_error("'catch' expected", catch_word.pos) end
      return { kind = "try", body = body, catch = block() }
    elseif token.kind == "word" and token.value == "exit" then
      take()
      local code = not ENDS[peek().kind] and expr() or nil
      return { kind = "exit", code = code }
    elseif token.kind == "variable" and peek(1).kind == "=" then
      take(); take()
      return { kind = "assign", name = token.value, value = pipeline() }
    end
    return pipeline()
  end

  function statements(closing)
    local body = {}
    while true do
      while peek().kind == "sep" do take() end
      local kind = peek().kind
      if kind == closing or kind == "eof" then break end
      body[#body + 1] = statement()
      if not ENDS[peek().kind] then
        parse_error(("unexpected '%s'"):format(tostring(peek().value or peek().kind)),
                    peek().pos)
      end
    end
    return body
  end

  local body = statements("eof")
  expect("eof")
  return { kind = "script", body = body }
end

return M
