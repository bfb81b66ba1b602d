--- encoding — the byte encodings runbook speaks itself: UTF-16LE (PowerShell's
-- -EncodedCommand, NTLM's strings) and base64 (RFC 4648, with padding). Pure Lua; C code
-- that needs them for secrets does its own, so a secret never becomes a Lua string.
--   encoding.utf16le(text) -> bytes           encoding.from_utf16le(bytes) -> text | nil, why
--   encoding.base64(bytes) -> text            encoding.unbase64(text) -> bytes | nil, why
local M = {}

-- UTF-8 -> UTF-16LE (surrogate pairs above U+FFFF).
function M.utf16le(text)
  local out = {}
  for _, code in utf8.codes(text) do
    if code >= 0x10000 then
      code = code - 0x10000
      local high, low = 0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)
      out[#out + 1] = string.pack("<I2I2", high, low)
    else
      out[#out + 1] = string.pack("<I2", code)
    end
  end
  return table.concat(out)
end

-- UTF-16LE -> UTF-8; nil, message when the input is not UTF-16LE.
function M.from_utf16le(bytes)
  if #bytes % 2 ~= 0 then return nil, "odd number of bytes" end
  local out, i = {}, 1
  while i <= #bytes do
    local unit = string.unpack("<I2", bytes, i)
    i = i + 2
    if unit >= 0xD800 and unit <= 0xDBFF then
      if i > #bytes then return nil, "lone high surrogate" end
      local low = string.unpack("<I2", bytes, i)
      if low < 0xDC00 or low > 0xDFFF then return nil, "bad surrogate pair" end
      i = i + 2
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
    elseif unit >= 0xDC00 and unit <= 0xDFFF then
      return nil, "lone low surrogate"
    end
    out[#out + 1] = utf8.char(unit)
  end
  return table.concat(out)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- base64(bytes) -> text (RFC 4648, padded)
function M.base64(bytes)
  local out = {}
  for i = 1, #bytes, 3 do
    local a, b, c = bytes:byte(i, i + 2)
    local v = (a << 16) | ((b or 0) << 8) | (c or 0)
    local chars = {}
    for shift = 18, 0, -6 do
      local index = (v >> shift) & 63
      chars[#chars + 1] = B64:sub(index + 1, index + 1)
    end
    if not b then chars[3], chars[4] = "=", "=" elseif not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end

--- unbase64(text) -> bytes | nil, "not base64"
function M.unbase64(text)
  if #text % 4 ~= 0 or text:find("[^%w%+/=]") then return nil, "not base64" end
  local out = {}
  for i = 1, #text, 4 do
    local v, pad = 0, 0
    for j = i, i + 3 do
      local char = text:sub(j, j)
      if char == "=" then pad = pad + 1; v = v << 6
      else v = (v << 6) | (B64:find(char, 1, true) - 1) end
    end
    local chunk = string.char((v >> 16) & 255, (v >> 8) & 255, v & 255)
    out[#out + 1] = chunk:sub(1, 3 - pad)
  end
  return table.concat(out)
end

return M
