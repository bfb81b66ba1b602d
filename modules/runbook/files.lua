--- runbook.files — the files an inventory names (an SSH private key, a known_hosts file, a
-- CA bundle) checked the way `runbook check` must: without network traffic, before any
-- step needs them. A schema field says which kind it holds with `file = KIND`; probe()
-- says what is wrong with one, in words the operator can act on. Contents are read only
-- to tell the kind (never kept, never shown: a private key stays where it is).
local fs = require "runbook.fs"
local i18n = require "runbook.i18n"

local M = {}

local t = i18n.t

local function first_lines(path, count)
  local file = io.open(path, "rb")
  if not file then return nil end
  local lines = {}
  for line in file:lines() do
    lines[#lines + 1] = line
    if #lines >= count then break end
  end
  file:close()
  return lines
end

-- Each kind: what its contents must show, and what else it needs.
local KINDS = {}

function KINDS.private_key(path, stat, lines)
  if (stat.mode & 0x3f) ~= 0 then   -- group or others may read it (077)
    return t("file_too_open", ("%04o"):format(stat.mode), path)
  end
  if not (lines[1] or ""):match("^%-%-%-%-%-BEGIN [%u ]*PRIVATE KEY%-%-%-%-%-") then
    return t("file_not_kind", path, t("kind_private_key"))
  end
end

function KINDS.known_hosts(path, _, lines)
  for number, line in ipairs(lines) do
    local text = line:gsub("^%s+", "")
    if text ~= "" and not text:match("^#") then
      local hosts, keytype = text:gsub("^@%S+%s+", ""):match("^(%S+)%s+(%S+)%s+%S+")
      if not hosts or not keytype:match("^[%w%-%.@]+$") then
        return t("file_bad_line", path, number, t("kind_known_hosts"))
      end
    end
  end
end

function KINDS.ca(path, _, lines)
  for _, line in ipairs(lines) do
    if line:match("^%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-") then return nil end
  end
  return t("file_not_kind", path, t("kind_ca"))
end

--- probe(path, kind) -> true | nil, message: the file exists, is a regular file this user
-- can read, and holds what `kind` names ("private_key", "known_hosts", "ca").
function M.probe(path, kind)
  local stat = fs.stat(path)
  if not stat then return nil, t("file_missing", path) end
  if stat.type ~= "file" then return nil, t("file_not_file", path, stat.type) end
  local lines = first_lines(path, 200)
  if not lines then return nil, t("file_unreadable", path) end
  local problem = KINDS[kind](path, stat, lines)
  if problem then return nil, problem end
  return true
end

M.KINDS = KINDS

return M
