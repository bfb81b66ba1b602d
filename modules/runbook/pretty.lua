--- runbook.pretty — values as an operator wants to read them at the prompt: tables
-- nested and indented with sorted keys, strings quoted, cycles marked, depth bounded.
local M = {}

local function sorted_keys(t)
  local keys = {}
  for key in pairs(t) do keys[#keys + 1] = key end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

local function is_identifier(key)
  return type(key) == "string" and key:match("^[%a_][%w_]*$") ~= nil
end

local function format(value, indent, seen, depth)
  if type(value) == "string" then return ("%q"):format(value):gsub("\\\n", "\\n") end
  if type(value) ~= "table" then return tostring(value) end
  if seen[value] then return "<cycle>" end
  if depth > 6 then return "{...}" end
  local keys = sorted_keys(value)
  if #keys == 0 then return "{}" end
  seen[value] = true
  local inner, lines = indent .. "  ", {}
  local n = #value
  for _, key in ipairs(keys) do
    local text = format(value[key], inner, seen, depth + 1)
    if math.type(key) == "integer" and key >= 1 and key <= n then
      lines[#lines + 1] = inner .. text
    elseif is_identifier(key) then
      lines[#lines + 1] = inner .. key .. " = " .. text
    else
      lines[#lines + 1] = inner .. "[" .. format(key, inner, seen, depth + 1) .. "] = " .. text
    end
  end
  seen[value] = nil
  return "{\n" .. table.concat(lines, ",\n") .. "\n" .. indent .. "}"
end

--- format(value) -> text
function M.format(value)
  return (format(value, "", {}, 0))
end

return M
