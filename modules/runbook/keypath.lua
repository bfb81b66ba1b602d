--- runbook.keypath — how a place in a data table (an inventory) is named in messages:
-- `dns.zone`, `servers[2]`, `servers["edge2a.contoso.com"].password`. One spelling for the
-- schema's problems (runbook.schema) and the source's lines (runbook.datalines), so that
-- a problem finds the line of its key. A key that is not a plain name (an FQDN) is quoted.
local M = {}

--- join(path, key) -> the path of key inside the table at path ("" is the top)
function M.join(path, key)
  if math.type(key) == "integer" then return ("%s[%d]"):format(path, key) end
  key = tostring(key)
  if key:match("^[%a_][%w_]*$") then return path == "" and key or path .. "." .. key end
  return path .. ("[%q]"):format(key)
end

--- parent(path) -> the path of the table that holds path's value; nil at the top
function M.parent(path)
  return path:match('^(.*)%[".*"%]$') or path:match("^(.*)%[%d+%]$")
    or path:match("^(.*)%.[%a_][%w_]*$")
end

return M
