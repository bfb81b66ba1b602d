--- dns.provider — what every DNS provider in modules/dns/ shares: record identity and
-- comparison, the diff shown in plan mode, and the compare-and-swap discipline.
--
-- A provider is a table of functions made by its module's new(config), through the
-- template M.new (below): the module supplies fetch and write, the template the rest.
--   provider.get(name, type)               -> records | nil, message, code
--   provider.set(name, type, records, ttl) -> {changed=, old=, new=, diff=} | nil, message, code
--   provider.delete(name, type)            -> {changed=, old=, diff=}       | nil, message, code
--   provider.serial()                      -> the zone's SOA serial as the primary serves it
--                                             now                          | nil, message, code
-- serial() is optional: called after set(), it gives the serial that dns.propagation waits
-- for besides the data; a provider that cannot know it (a person makes the change, or the
-- server hides it) leaves it out, and propagation then waits for the data only.
-- Names are absolute, without the trailing dot ("sip.contoso.com"); records are the tables
-- runbook.dns returns ({address=}, {target=}, {priority=, weight=, port=, target=}, {text=}).
-- set() and delete() change the RRset only if it still holds what the provider read
-- (code "conflict" otherwise); in plan mode they refuse, raising with the diff.
local task = require "runbook.task"

local M = {}

local function bare(name)
  return (tostring(name):lower():gsub("%.$", ""))
end
M.bare = bare

--- key(type, record) -> the record's value as one comparable string ("10 0 5269 edge1…").
function M.key(type, record)
  type = type:upper()
  if type == "A" then return record.address
  elseif type == "AAAA" then return record.address:lower()
  elseif type == "CNAME" or type == "NS" then return bare(record.target)
  elseif type == "SRV" then
    return ("%d %d %d %s"):format(record.priority, record.weight, record.port,
                                  bare(record.target))
  elseif type == "TXT" then return ("%q"):format(record.text)
  elseif type == "MX" then return ("%d %s"):format(record.preference, bare(record.exchange))
  end
  error(("[dns] records of type %s are not supported by the providers"):format(type), 3)
end

--- same(type, a, b) -> whether two record lists hold the same values (order aside).
function M.same(type, a, b)
  local seen = {}
  for _, record in ipairs(a) do seen[M.key(type, record)] = true end
  if #a ~= #b then return false end
  for _, record in ipairs(b) do
    if not seen[M.key(type, record)] then return false end
  end
  return true
end

local function set_of(type, records)
  local keys = {}
  for _, record in ipairs(records) do keys[M.key(type, record)] = record end
  return keys
end

--- changes(type, old, new) -> removed, added: the records only in old, only in new.
function M.changes(type, old, new)
  local old_set, new_set, removed, added = set_of(type, old), set_of(type, new), {}, {}
  for _, record in ipairs(old) do
    if not new_set[M.key(type, record)] then removed[#removed + 1] = record end
  end
  for _, record in ipairs(new) do
    if not old_set[M.key(type, record)] then added[#added + 1] = record end
  end
  return removed, added
end

--- kept(type, old, new) -> the records of new that old already holds (a TTL change must
-- rewrite them too).
function M.kept(type, old, new)
  local old_set, kept = set_of(type, old), {}
  for _, record in ipairs(new) do
    if old_set[M.key(type, record)] then kept[#kept + 1] = record end
  end
  return kept
end

--- diff(name, type, old, new, ttl) -> text, one "- " / "+ " / "  " line per record.
function M.diff(name, type, old, new, ttl)
  local lines = { ("%s %s:"):format(bare(name), type:upper()) }
  local new_set, old_set = set_of(type, new), set_of(type, old)
  for _, record in ipairs(old) do
    local key = M.key(type, record)
    local mark = new_set[key] and "  " or "- "
    lines[#lines + 1] = ("  %s%s (ttl %s)"):format(mark, key, record.ttl or "?")
  end
  for _, record in ipairs(new) do
    local key = M.key(type, record)
    if not old_set[key] then
      lines[#lines + 1] = ("  + %s (ttl %s)"):format(key, ttl or record.ttl or "?")
    end
  end
  return table.concat(lines, "\n")
end

--- refuse_if_planning(what, diff): in plan mode, and inside a read-only task (a step's
-- check), raises with the diff instead of changing anything — for every provider alike,
-- also those whose change is not a C primitive (sim, manual).
function M.refuse_if_planning(what, diff)
  task.check_mutation(("%s:\n%s\n"):format(what, diff))
end

--- prepare(zone, name, type, records, ttl, old) -> {ttl=, diff=} | nil, unchanged
-- What every provider's set() does once it knows `old` (what get() saw): the TTL to write,
-- the diff; when the RRset already holds the records, nil and the {changed = false} answer
-- to return; in plan mode, the refusal with the diff.
function M.prepare(zone, name, type, records, ttl, old)
  ttl = M.ttl_of(records, ttl, old)
  local diff = M.diff(name, type, old, records, ttl)
  local ttl_changed = #old > 0 and #records > 0 and old[1].ttl ~= ttl
  if M.same(type, old, records) and not ttl_changed then
    return nil, { changed = false, old = old, new = old, diff = diff }
  end
  M.refuse_if_planning("change DNS records in " .. zone, diff)
  return { ttl = ttl, diff = diff }
end

--- previous(recall, get, name, type) -> the RRset as the caller last read it (read now if
-- never) | nil, message, code: the value a change is compared and swapped against.
function M.previous(recall, get, name, type)
  local old = recall(name, type)
  if old then return old end
  return get(name, type)
end

--- still_as_read(label, fetch, zone, name, type, old) -> true | nil, message, code
-- For providers without atomic prerequisites: re-reads just before the change and refuses
-- ("conflict") when someone else changed the RRset since it was read.
function M.still_as_read(label, fetch, zone, name, type, old)
  local now, message, code = fetch(name, type)
  if not now then return nil, message, code end
  if M.same(type, now, old) then return true end
  return nil, ("[%s] %s %s in %s changed since it was read; read it again and decide"):format(
    label, bare(name), type, zone), "conflict"
end

--- changed(remember, name, type, records, ttl, old, diff) -> set()'s answer after a change,
-- remembering the new RRset as the next change's prerequisite.
function M.changed(remember, name, type, records, ttl, old, diff)
  local new = M.copy(records)
  for _, record in ipairs(new) do
    record.name, record.type, record.ttl = bare(name), type:upper(), ttl
  end
  remember(name, type, new)
  return { changed = true, old = old, new = new, diff = diff }
end

--- ttl_of(records, ttl, old) -> the TTL to write: given, else the records', else the old.
function M.ttl_of(records, ttl, old)
  return ttl or (records[1] and records[1].ttl) or (old[1] and old[1].ttl) or 3600
end

--- only(records, name, type) -> the records of this name and type (answers may carry a
-- CNAME chain or others).
function M.only(records, name, type)
  local out = {}
  for _, record in ipairs(records) do
    if bare(record.name) == bare(name) and record.type == type:upper() then
      out[#out + 1] = record
    end
  end
  return out
end

--- copy(records) -> a copy of a record list, one level deep per record.
function M.copy(records)
  local out = {}
  for i, record in ipairs(records) do
    local c = {}
    for k, v in pairs(record) do c[k] = v end
    out[i] = c
  end
  return out
end

--- new(spec) -> provider: the template every provider is made with. The module supplies
--   spec.label   its name in messages ("dns.powerdns")
--   spec.kind, spec.zone
--   spec.fetch(name, TYPE) -> records | nil, message, code      one read from the server
--   spec.write(change) -> true | records | nil, message, code   the change itself, with
--     change = {name=, type=, records=, ttl=, old=, diff=}; true when the wanted records
--     are written, or the records now served when they may differ (a person typed them)
--   spec.atomic  true when write() carries its own prerequisite (RFC 2136): no re-read
--   spec.serial, spec.prove, and any other field: copied onto the provider as they are
-- and the template supplies get, set and delete with the compare-and-swap discipline:
-- set() compares against what get() last saw, refuses with the diff while planning, and
-- (unless atomic) reads again just before writing.
function M.new(spec)
  local remember, recall = M.memory()
  local p = {}
  for key, value in pairs(spec) do
    if key ~= "fetch" and key ~= "write" and key ~= "atomic" and key ~= "label" then
      p[key] = value
    end
  end

  function p.get(name, rtype)
    rtype = rtype:upper()
    local records, message, code = spec.fetch(name, rtype)
    if records then remember(name, rtype, records) end
    return records, message, code
  end

  function p.set(name, rtype, records, ttl)
    rtype = rtype:upper()
    local old, message, code = M.previous(recall, p.get, name, rtype)
    if not old then return nil, message, code end
    local prepared, unchanged = M.prepare(spec.zone, name, rtype, records, ttl, old)
    if not prepared then return unchanged end
    if not spec.atomic then
      local fresh
      fresh, message, code = M.still_as_read(spec.label, spec.fetch, spec.zone, name, rtype, old)
      if not fresh then return nil, message, code end
    end
    local written
    written, message, code = spec.write { name = name, type = rtype, records = records,
      ttl = prepared.ttl, old = old, diff = prepared.diff }
    if not written then return nil, message, code end
    if written ~= true then
      remember(name, rtype, written)
      return { changed = true, old = old, new = written, diff = prepared.diff }
    end
    return M.changed(remember, name, rtype, records, prepared.ttl, old, prepared.diff)
  end

  function p.delete(name, rtype)
    return p.set(name, rtype, {}, nil)
  end

  return p
end

--- memory() -> remember(name, type, records), recall(name, type): what get() last saw,
-- which set()/delete() use as the prerequisite (copies: callers may edit what get returned).
function M.memory()
  local seen = {}
  local function slot(name, type) return bare(name) .. " " .. type:upper() end
  return function(name, type, records) seen[slot(name, type)] = M.copy(records) end,
         function(name, type)
           local records = seen[slot(name, type)]
           return records and M.copy(records)
         end
end

return M
