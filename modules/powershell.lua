--- powershell — builds the PowerShell the cmdlet layer sends to Windows servers, and reads
-- what comes back.
--
-- Every value becomes a literal: strings in single quotes, where PowerShell expands
-- nothing ($, backticks, $(), ; and newlines are plain characters) and the only way out is
-- a quote, so every quote character is doubled — ' and the typographic quotes U+2018-U+201B,
-- which PowerShell treats as single quotes too. Numbers, booleans, lists and maps become
-- number literals, $true/$false, @(...) and @{...}. Cmdlet and parameter names are checked
-- against the Verb-Noun and identifier shapes; anything else raises.
--
-- The script the cmdlet layer sends (command_script) runs the command so that results come
-- back as one JSON array (exit 0) and errors as one JSON record {message, category,
-- FullyQualifiedErrorId} (exit 1), in one frame line behind a random boundary, so text a
-- cmdlet writes to the screen around it is never parsed (wrap: the same unframed, one JSON
-- document on stdout, for reading by hand). It travels as
-- `powershell -NoProfile -NonInteractive -EncodedCommand <base64 of UTF-16LE>`, which
-- no shell on the way (cmd.exe, sshd's, WinRM's) can reinterpret.
-- A script whose command line would pass cmd.exe's limit of 8,191 characters travels on
-- stdin instead (as base64 of UTF-8), read and run by a short bootstrap: see invocation.
local encoding = require "encoding"
local cjson = require "cjson"

local M = {}

-- A value the caller wants sent as $null (nil cannot sit in a Lua table).
M.null = setmetatable({}, { __tostring = function() return "$null" end })

local QUOTES = { "'", "\u{2018}", "\u{2019}", "\u{201A}", "\u{201B}" }

--- quote_string(text) -> a single-quoted PowerShell literal of text.
function M.quote_string(text)
  assert(type(text) == "string", "[powershell] quote_string expects a string")
  assert(utf8.len(text), "[powershell] text is not valid UTF-8")
  local out = text
  for _, quote in ipairs(QUOTES) do
    out = out:gsub(quote, quote .. quote)
  end
  return "'" .. out .. "'"
end

local function is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local NAME = "^[%a_][%w_]*$"

--- literal(value) -> PowerShell text of a Lua value (string, number, boolean, null, list, map).
function M.literal(value)
  local kind = type(value)
  if value == M.null then return "$null"
  elseif kind == "string" then return M.quote_string(value)
  elseif kind == "boolean" then return value and "$true" or "$false"
  elseif kind == "number" then
    assert(value == value and value ~= math.huge and value ~= -math.huge,
           "[powershell] cannot send NaN or infinity")
    if math.type(value) == "integer" then return tostring(value) end
    return ("%.17g"):format(value)
  elseif kind == "table" and is_list(value) then
    local items = {}
    for i, item in ipairs(value) do items[i] = M.literal(item) end
    return "@(" .. table.concat(items, ",") .. ")"
  elseif kind == "table" then
    local keys = {}
    for key in pairs(value) do
      assert(type(key) == "string", "[powershell] map keys must be strings")
      keys[#keys + 1] = key
    end
    table.sort(keys)
    local pairs_text = {}
    for i, key in ipairs(keys) do
      pairs_text[i] = M.quote_string(key) .. "=" .. M.literal(value[key])
    end
    return "@{" .. table.concat(pairs_text, ";") .. "}"
  end
  error("[powershell] cannot send a " .. kind .. " to PowerShell", 2)
end

--- command(name, parameters) -> "Verb-Noun -Name value ..." (Identity first, then sorted).
-- A boolean becomes -Name:$true / -Name:$false (the form switch parameters take).
function M.command(name, parameters)
  if type(name) ~= "string" or not name:match("^%a+%-%a[%w]*$") then
    error(("[powershell] %q is not a cmdlet name (Verb-Noun)"):format(tostring(name)), 2)
  end
  local names = {}
  for key in pairs(parameters or {}) do
    if type(key) ~= "string" or not key:match(NAME) then
      error(("[powershell] %q is not a parameter name"):format(tostring(key)), 2)
    end
    names[#names + 1] = key
  end
  table.sort(names, function(a, b)
    if (a == "Identity") ~= (b == "Identity") then return a == "Identity" end
    return a < b
  end)
  local words = { name }
  for _, key in ipairs(names) do
    local value = parameters[key]
    if type(value) == "boolean" then
      words[#words + 1] = "-" .. key .. ":" .. M.literal(value)
    else
      words[#words + 1] = "-" .. key
      words[#words + 1] = M.literal(value)
    end
  end
  return table.concat(words, " ")
end

--- wrap(pipeline) -> the whole script: results as a JSON array, errors as a JSON record, as
-- the whole of stdout (unframed: a status report a cmdlet writes breaks it; runbook's cmdlet
-- layer sends command_script instead).
function M.wrap(pipeline)
  return table.concat({
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    "try {",
    "  $result = @(" .. pipeline .. ")",
    "  ConvertTo-Json -InputObject $result -Depth 4 -Compress",
    "} catch {",
    "  $record = [ordered]@{ message = $_.Exception.Message; "
      .. "category = $_.CategoryInfo.Category.ToString(); "
      .. "FullyQualifiedErrorId = $_.FullyQualifiedErrorId }",
    "  ConvertTo-Json -InputObject $record -Compress",
    "  exit 1",
    "}",
  }, "\n")
end

-- The encodings PowerShell's -EncodedCommand needs, from the module named for them.
M.utf16le, M.from_utf16le = encoding.utf16le, encoding.from_utf16le
M.base64, M.unbase64 = encoding.base64, encoding.unbase64

--- command_line(script) -> "powershell -NoProfile -NonInteractive -EncodedCommand ..."
function M.command_line(script)
  return "powershell -NoProfile -NonInteractive -EncodedCommand "
    .. M.base64(M.utf16le(script))
end

--- The longest command line cmd.exe runs (CreateProcess allows 32,767; cmd.exe, which
-- OpenSSH for Windows and WinRS start commands through, stops at 8,191).
M.MAX_COMMAND_LINE = 8191

-- Reads the script from stdin ($input: its lines), decodes and runs it in this scope, so
-- its `exit` still sets the process's exit code.
local BOOTSTRAP = table.concat({
  "$ErrorActionPreference = 'Stop'",
  "$script = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String(-join @($input)))",
  "Invoke-Expression $script",
}, "\n")

--- invocation(script) -> command_line, stdin | nil
-- The command line for the script; when it would be longer than cmd.exe takes, a
-- bootstrap's command line and the script as stdin (base64 of UTF-8, lines of 76).
function M.invocation(script)
  local line = M.command_line(script)
  if #line <= M.MAX_COMMAND_LINE then return line, nil end
  local encoded = M.base64(script)
  local lines = {}
  for i = 1, #encoded, 76 do lines[#lines + 1] = encoded:sub(i, i + 75) end
  return M.command_line(BOOTSTRAP), table.concat(lines, "\r\n") .. "\r\n"
end

-- ------------------------------------------------------------- persistent sessions
-- One PowerShell per host per run: the session's process runs a bootstrap (on its command
-- line, so no shell reinterprets it) that reads one script per line on stdin, as base64 of
-- UTF-8, runs it in its own scope and answers one frame line per script:
--   <boundary> <status> <base64 of the UTF-8 JSON answer>
-- The boundary is random per session (32 hex digits); whatever a cmdlet writes to the
-- console around a frame (warnings, progress, Write-Host) is skipped, since nothing but the
-- bootstrap knows the boundary. Its first line, "<boundary> ready", proves the loop runs:
-- a host that cannot run it (a forced command, a JEA endpoint in no-language mode) is
-- served one process per command instead (modules/pssession.lua).

--- session_script(pipeline) -> the script a session runs for one call: wrap's, except that
-- it leaves its answer in $json and $status (0 results, 1 error record), since an exit
-- would end the session's process.
function M.session_script(pipeline)
  return table.concat({
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    "try {",
    "  $result = @(" .. pipeline .. ")",
    "  $json = ConvertTo-Json -InputObject $result -Depth 4 -Compress",
    "  $status = 0",
    "} catch {",
    "  $record = [ordered]@{ message = $_.Exception.Message; "
      .. "category = $_.CategoryInfo.Category.ToString(); "
      .. "FullyQualifiedErrorId = $_.FullyQualifiedErrorId }",
    "  $json = ConvertTo-Json -InputObject $record -Compress",
    "  $status = 1",
    "}",
  }, "\n")
end

-- A boundary: 32 random hex digits, new for every session and every command script.
local function is_boundary(boundary)
  return type(boundary) == "string" and #boundary == 32 and boundary:match("^%x+$") ~= nil
end

--- new_boundary() -> 32 random hex digits (from /dev/urandom).
function M.new_boundary()
  local file = assert(io.open("/dev/urandom", "rb"))
  local bytes = file:read(16)
  file:close()
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

--- command_script(pipeline, boundary) -> the script for one call in a PowerShell process of
-- its own: session_script's, behind `$boundary = '…'`, then its answer as one frame line
-- (find_frame reads it, as a session's) and `exit $status`. Whatever a cmdlet writes to the
-- console besides its objects (Stop-CsWindowsService's status report "written to the
-- screen", warnings) is noise around the frame, never part of the JSON (docs/transports.md).
function M.command_script(pipeline, boundary)
  assert(is_boundary(boundary), "[powershell] a boundary is 32 hex digits")
  return table.concat({
    "$boundary = '" .. boundary .. "'",
    M.session_script(pipeline),
    "$bytes = [Text.Encoding]::UTF8.GetBytes([string]$json)",
    "[Console]::Out.WriteLine(-join @($boundary, ' ', $status, ' ', "
      .. "[Convert]::ToBase64String($bytes)))",
    "exit $status",
  }, "\n")
end

--- command_pipeline(script) -> pipeline, boundary when script is exactly a command_script.
function M.command_pipeline(script)
  local boundary = script:match("^%$boundary = '(%x+)'\n")
  if not is_boundary(boundary) then return nil end
  local head, tail = M.command_script("\0", boundary):match("^(.-)%z(.*)$")
  if #script < #head + #tail or script:sub(1, #head) ~= head
     or script:sub(-#tail) ~= tail then
    return nil
  end
  return script:sub(#head + 1, #script - #tail), boundary
end

--- session_bootstrap(boundary) -> the loop a session's process runs.
function M.session_bootstrap(boundary)
  assert(is_boundary(boundary), "[powershell] a session boundary is 32 hex digits")
  return table.concat({
    "$boundary = '" .. boundary .. "'",
    "[Console]::Out.WriteLine($boundary + ' ready')",
    "[Console]::Out.Flush()",
    "while ($true) {",
    "  $line = [Console]::In.ReadLine()",
    "  if ($null -eq $line) { break }",
    "  $status = 1",
    "  $json = $null",
    "  try {",
    "    $text = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($line))",
    "    $null = . ([scriptblock]::Create($text))",
    "  } catch {",
    "    $record = [ordered]@{ message = $_.Exception.Message; "
      .. "category = $_.CategoryInfo.Category.ToString(); "
      .. "FullyQualifiedErrorId = $_.FullyQualifiedErrorId }",
    "    $json = ConvertTo-Json -InputObject $record -Compress",
    "  }",
    "  $bytes = [Text.Encoding]::UTF8.GetBytes([string]$json)",
    "  [Console]::Out.WriteLine($boundary + ' ' + $status + ' ' + "
      .. "[Convert]::ToBase64String($bytes))",
    "  [Console]::Out.Flush()",
    "}",
  }, "\n")
end

--- session_command(boundary) -> the command line that starts a session's process.
function M.session_command(boundary)
  return "powershell -NoLogo -NoProfile -NonInteractive -EncodedCommand "
    .. M.base64(M.utf16le(M.session_bootstrap(boundary)))
end

--- session_boundary(script) -> the boundary when script is exactly a session bootstrap.
function M.session_boundary(script)
  local boundary = script:match("^%$boundary = '(%x+)'\n")
  if boundary and #boundary == 32 and script == M.session_bootstrap(boundary) then
    return boundary
  end
end

--- session_frame(script) -> the line that carries one script into a session.
function M.session_frame(script)
  return M.base64(script) .. "\n"
end

--- find_frame(buffer, boundary, from) -> status, json, next | nil
-- The first whole frame line in buffer at or after from: its status (0 or 1), its JSON
-- text and where the buffer goes on after it. Text around frames is noise.
function M.find_frame(buffer, boundary, from)
  local start = buffer:find(boundary .. " ", from or 1, true)
  if not start then return nil end
  local line_end = buffer:find("\n", start, true)
  if not line_end then return nil end
  local line = buffer:sub(start + #boundary + 1, line_end - 1):gsub("\r$", "")
  local status, encoded = line:match("^(%d+) ([%w+/=]*)$")
  local json = status and M.unbase64(encoded)
  if not json then return false, line, line_end + 1 end
  return tonumber(status), json, line_end + 1
end

-- JSON nulls become nil, so results read like ordinary Lua tables.
local function strip_nulls(value)
  if type(value) ~= "table" then return value end
  for key, item in pairs(value) do
    if item == cjson.null then value[key] = nil else strip_nulls(item) end
  end
  return value
end

-- The error record of an answer runbook cannot read: what the server said, in its words.
local function no_result(result)
  local said = (result.stderr ~= "" and result.stderr or result.stdout):sub(1, 500)
  return nil, { message = ("powershell exited %s: %s"):format(tostring(result.status),
                                                            said:match("^%s*(.-)%s*$")),
                category = "InvalidResult", FullyQualifiedErrorId = "runbook.NoJsonResult" }
end

--- parse(result) -> list of objects | nil, error record {message=, category=, ...}
-- result is what the transport returned: {stdout=, stderr=, status=}, stdout one JSON text.
function M.parse(result)
  local text = result.stdout:gsub("^\239\187\191", ""):match("^%s*(.-)%s*$")
  local ok, decoded = pcall(cjson.decode, text ~= "" and text or "[]")
  if result.status == 0 and ok and type(decoded) == "table" then
    return strip_nulls(decoded)
  end
  if result.status == 1 and ok and type(decoded) == "table" and decoded.message then
    return nil, strip_nulls(decoded)
  end
  return no_result(result)
end

--- parse_framed(result, boundary) -> as parse, for the answer of a command_script: the JSON
-- of its frame line, whatever else stdout holds. No frame (a process that never ran the
-- script, or died first) is an answer runbook cannot read, with what the server said.
function M.parse_framed(result, boundary)
  local status, json = M.find_frame(result.stdout, boundary)
  if not status then return no_result(result) end
  return M.parse { stdout = json, stderr = result.stderr, status = status }
end

return M
