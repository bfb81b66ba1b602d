--- powershell.projection — shapes a cmdlet's output into plain data on the Windows side, so
-- what comes back never depends on how ConvertTo-Json serializes live objects:
--
--   Get-CsPool -Identity 'edgepool2.contoso.com' | ForEach-Object { [pscustomobject]@{
--     Identity = [string]$_.Identity; Computers = [string[]]@($_.Computers) } }
--
-- Windows PowerShell 5.1's ConvertTo-Json writes an enum as its number and a DateTime as
-- "\/Date(ms)\/", and a CIM instance nested in another object (Get-DnsServerResourceRecord's
-- RecordData) as {CimClass, CimInstanceProperties, CimSystemProperties}, without the adapted
-- properties a script reads (PowerShell's ConvertTo-Json serializes those only for a value
-- wrapped in a PSObject; PowerShell/PowerShell#24554). A projection reads every field on the
-- server, by PowerShell's own conversions, into a string, a number or a list of strings.
--
-- A field: { "Name", "Path.Of.Members", kind } with kind
--   "string"  [string]$_.Path       (an enum's name, an address's text, $null as '')
--   "strings" [string[]]@($_.Path)  (each item's text; none: an empty list)
--   "int"     [long]$_.Path         (a number; $null as 0)
--   "bool"    [bool]$_.Path
-- The text is fixed by the fields, so a read template (runbook.reads) proves its instances
-- by comparing the whole pipeline with what this module builds.
local M = {}

local CASTS = { string = "[string]$_.%s", strings = "[string[]]@($_.%s)",
                int = "[long]$_.%s", bool = "[bool]$_.%s" }

local function field_text(field)
  local name, path, kind = field[1], field[2], field[3] or "string"
  assert(type(name) == "string" and name:match("^[%a_][%w_]*$"),
         "[projection] a field name is an identifier")
  assert(type(path) == "string" and path:match("^[%a_][%w_]*$")
         or path:match("^[%a_][%w_]*%.[%a_][%w_.]*[%w_]$"),
         "[projection] a path is member names joined by dots")
  local cast = assert(CASTS[kind], "[projection] kind must be string, strings, int or bool")
  return name .. " = " .. cast:format(path)
end

--- suffix(fields) -> " | ForEach-Object { [pscustomobject]@{ … } }"
function M.suffix(fields)
  assert(type(fields) == "table" and #fields > 0, "[projection] fields must be a list")
  local parts = {}
  for i, field in ipairs(fields) do parts[i] = field_text(field) end
  return " | ForEach-Object { [pscustomobject]@{ " .. table.concat(parts, "; ") .. " } }"
end

--- pipeline(command_text, fields) -> the command followed by its projection
function M.pipeline(command_text, fields)
  return command_text .. M.suffix(fields)
end

return M
