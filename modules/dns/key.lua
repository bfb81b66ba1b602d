--- dns.key — reads TSIG keys in the format `tsig-keygen` (and `ddns-confgen`, BIND's
-- named.conf `key` statements) writes:
--   key "tsig-test." { algorithm hmac-sha256; secret "base64=="; };
-- Names may be quoted or bare, the algorithm in any case. Returns the table dns.update takes:
-- {name=, algorithm=, secret=}. Errors name the file and never contain the secret.
local M = {}

-- text without #, // and /* */ comments; quoted strings are kept whole (a base64 secret
-- may contain "//").
local function strip_comments(text)
  local out, i = {}, 1
  while i <= #text do
    local c = text:sub(i, i)
    local two = text:sub(i, i + 1)
    if c == '"' then
      local close = text:find('"', i + 1, true) or #text
      out[#out + 1] = text:sub(i, close)
      i = close + 1
    elseif c == "#" or two == "//" then
      i = (text:find("\n", i, true) or #text + 1)
    elseif two == "/*" then
      i = (select(2, text:find("*/", i + 2, true)) or #text) + 1
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

--- parse(text [, source]) -> {name=, algorithm=, secret=} (the first key in text), or
-- nil, message.
function M.parse(text, source)
  source = source or "key text"
  text = strip_comments(text)
  local name, body = text:match('key%s+"([^"]+)"%s*(%b{})')
  if not name then name, body = text:match("key%s+([%w%.%-_]+)%s*(%b{})") end
  if not name then
    return nil, ("[dns] %s: no `key NAME { ... };` statement found"):format(source)
  end
  local algorithm = body:match('algorithm%s+"?([%w%.%-]+)"?%s*;')
  local secret = body:match('secret%s+"([^"]+)"%s*;') or body:match("secret%s+([%w+/=]+)%s*;")
  if not algorithm then
    return nil, ("[dns] %s: key %s has no algorithm"):format(source, name)
  end
  if not secret then
    return nil, ("[dns] %s: key %s has no secret"):format(source, name)
  end
  return { name = name, algorithm = algorithm:lower(), secret = secret }
end

--- read(path) -> key, or nil, message.
function M.read(path)
  local file, err = io.open(path, "r")
  if not file then return nil, ("[dns] cannot read TSIG key file: %s"):format(err) end
  local text = file:read("a")
  file:close()
  return M.parse(text, path)
end

return M
