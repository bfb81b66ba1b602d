--- runbook.datalines — where each key of a Lua data file (an inventory) is written.
-- A loaded table has no line numbers, but an operator needs `contoso.lua:14: dns.zone`.
-- This reads the source with a small tokenizer and maps key paths ("dns.zone",
-- "servers[2].address", spelled by runbook.keypath as the schema spells them) to the line
-- of the key (or of the list item).
local keypath = require "runbook.keypath"

local M = {}

local ESCAPES = { n = "\n", t = "\t", r = "\r", ["\\"] = "\\", ['"'] = '"', ["'"] = "'" }

-- The value of a quoted string's text, for the escapes a key plausibly has.
local function unescape(text)
  return (text:gsub("\\(.)", function(c) return ESCAPES[c] end))
end

local function long_bracket(source, i)
  local level = source:match("^%[(=*)%[", i)
  if not level then return nil end
  local close = "]" .. level .. "]"
  local stop = source:find(close, i, true)
  return stop and stop + #close - 1 or #source
end

-- Returns the next token's kind, text and end position, skipping space and comments.
local function next_token(source, i, line)
  while true do
    local space = source:match("^%s+", i)
    if space then
      local _, newlines = space:gsub("\n", "")
      line, i = line + newlines, i + #space
    elseif source:sub(i, i + 1) == "--" then
      local stop = long_bracket(source, i + 2) or (source:find("\n", i, true) or #source + 1) - 1
      local _, newlines = source:sub(i, stop):gsub("\n", "")
      line, i = line + newlines, stop + 1
    else
      break
    end
  end
  if i > #source then return nil, nil, i, line end
  local c = source:sub(i, i)
  if c == '"' or c == "'" then
    local j = i + 1
    while j <= #source and source:sub(j, j) ~= c do
      j = j + (source:sub(j, j) == "\\" and 2 or 1)
    end
    return "string", unescape(source:sub(i + 1, j - 1)), j + 1, line
  end
  local stop = c == "[" and long_bracket(source, i)
  if stop then return "string", source:sub(i, stop), stop + 1, line end
  local name = source:match("^[%a_][%w_]*", i)
  if name then return "name", name, i + #name, line end
  local number = source:match("^%d[%w%.]*", i)
  if number then return "value", number, i + #number, line end
  if source:sub(i, i + 1) == "==" then return "op", "==", i + 2, line end
  return "op", c, i + 1, line
end

local join = keypath.join

--- map(source) -> { [path] = line }
function M.map(source)
  local lines, tokens = {}, {}
  local i, line = 1, 1
  while true do
    local kind, text
    kind, text, i, line = next_token(source, i, line)
    if not kind then break end
    tokens[#tokens + 1] = { kind = kind, text = text, line = line }
  end
  local stack = {}
  local function positional(top, token)
    top.index = top.index + 1
    local path = join(top.path, top.index)
    lines[path] = lines[path] or token.line
    return path
  end
  local k = 1
  while k <= #tokens do
    local token, top = tokens[k], stack[#stack]
    local after = tokens[k + 1]
    if token.text == "{" and token.kind == "op" then
      local path = ""
      if top then
        path = top.key or positional(top, token)
        top.key = nil
      end
      stack[#stack + 1] = { path = path, index = 0 }
    elseif token.text == "}" and token.kind == "op" then
      stack[#stack] = nil
    elseif top and token.kind == "name" and after and after.text == "=" then
      top.key = join(top.path, token.text)
      lines[top.key] = token.line
      k = k + 1
    elseif top and token.text == "[" and after and after.kind == "string"
        and tokens[k + 3] and tokens[k + 3].text == "=" then
      top.key = join(top.path, after.text)
      lines[top.key] = token.line
      k = k + 3
    elseif top and (token.text == "," or token.text == ";") then
      top.key = nil
    elseif top and not top.key and token.kind ~= "op" then
      positional(top, token)
    end
    k = k + 1
  end
  return lines
end

--- line_of(lines, path) -> the line of path or of its nearest written parent
function M.line_of(lines, path)
  while path and path ~= "" do
    if lines[path] then return lines[path] end
    path = keypath.parent(path)
  end
  return 1
end

return M
