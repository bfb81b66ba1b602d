--- runbook — the language runbooks are written in.
--
--   local runbook = require "runbook"
--   return runbook.define {
--     id = "xmpp-failover", title = "…",         -- English; or { en = …, de = …, fr = … }
--     translations = runbook.translations "xmpp-federation.titles",   -- optional, see below
--     params = { site = { type = "string", required = true, description = "…" } },
--     inventory = { domain = { type = "string", required = true } },   -- schema fields
--     steps = {
--       { id = "stop-services", title = "…",
--         hosts = function(ctx) return ctx.inventory.edge_servers end,   -- optional fan-out
--         check = function(ctx, host) return holds, current, desired end, -- read-only
--         run = function(ctx, host) … end,                                -- the change
--         verify = function(ctx, host) return ok, message end,           -- optional
--         rollback = function(ctx, host) … end,                          -- optional
--         confirm = true, guidance = { en = … },                          -- optional
--         changes_nothing = true,     -- optional: run only waits; nothing to roll back
--         needs = function(ctx) return { need, … } end },   -- optional: runbook.preflight
--     },
--   }
--
-- Titles and guidance are written in English; their German and French are in a catalogue
-- file beside the runbook, keyed by runbook and step id (runbooks/xmpp-federation.titles.lua):
--   return { ["xmpp-failover"] = { de = …, fr = … },
--            ["stop-services"] = { de = …, fr = …, guidance = { de = …, fr = … } } }
-- A step without `run` is a precondition: when its check does not hold, the run stops
-- with its guidance. Rollback is by intent: every host whose run started is rolled back,
-- also one that failed half-way, so a rollback restores from what the run remembered
-- before its change (ctx.remember) and does nothing where that state already holds.
-- Organizations adapt a shipped runbook without copying it:
--   local failover = runbook.extend "xmpp-failover"
--   failover.params.ticket = { type = "string", required = true, description = "…" }
--   failover:insert_before("stop-services", { id = "notify", … })
--   failover:add_check("port-5269", { before = function(ctx) return ok, why end })
--   return failover
local cli = require "runbook.cli"
local i18n = require "runbook.i18n"
local schema = require "runbook.schema"
local t = require("runbook.i18n").t

local M = {}

local Runbook = {}
Runbook.__index = Runbook
Runbook.__name = "runbook.definition"

local STEP_KEYS = { id = true, title = true, hosts = true, check = true, run = true,
  verify = true, rollback = true, confirm = true, guidance = true, limit = true,
  description = true, changes_nothing = true, needs = true }

local function fail(definition, message)
  error(("[runbook] %s: %s"):format(definition.id or "runbook", message), 3)
end

local function check_step(definition, step, seen)
  if type(step) ~= "table" then fail(definition, t("step_not_table")) end
  if type(step.id) ~= "string" or step.id == "" then
    fail(definition, t("step_without_id"))
  end
  if seen[step.id] then fail(definition, t("step_id_twice", step.id)) end
  seen[step.id] = true
  for key in pairs(step) do
    if not STEP_KEYS[key] then fail(definition, t("step_unknown_key", step.id, tostring(key))) end
  end
  if type(step.check) ~= "function" then
    fail(definition, t("step_needs_check", step.id))
  end
  for _, key in ipairs { "run", "verify", "rollback", "hosts", "needs" } do
    if step[key] ~= nil and type(step[key]) ~= "function" then
      fail(definition, t("step_not_function", step.id, key))
    end
  end
end

-- A text ("…" or {en=, …}) with the languages the catalogue entry has and it lacks: a new
-- table, so that a text an extension shares with its base is never changed.
local function translated(text, entry)
  if type(entry) ~= "table" or text == nil then return text end
  local merged = type(text) == "table" and {} or { en = text }
  if type(text) == "table" then for lang, words in pairs(text) do merged[lang] = words end end
  for lang, words in pairs(entry) do
    if type(words) == "string" and merged[lang] == nil then merged[lang] = words end
  end
  return merged
end

-- Gives the runbook's and each step's title and guidance the languages of its translations.
local function translate(definition)
  local words = definition.translations
  if type(words) ~= "table" then return end
  definition.title = translated(definition.title, words[definition.id])
  for _, step in ipairs(definition.steps) do
    local entry = words[step.id]
    step.title = translated(step.title, entry)
    step.guidance = translated(step.guidance, type(entry) == "table" and entry.guidance or nil)
  end
end

local function validate(definition)
  if type(definition.id) ~= "string" then fail(definition, t("runbook_needs_id")) end
  if type(definition.steps) ~= "table" then fail(definition, t("runbook_needs_steps")) end
  local seen = {}
  for _, step in ipairs(definition.steps) do check_step(definition, step, seen) end
  translate(definition)
  return definition
end

--- translations(name) -> the catalogue NAME.lua in the directory of the runbook that asks:
-- data only ({id = {de=, fr=, guidance = {de=, fr=}}}), read like an inventory, with no
-- function to call. Give it as `translations` to define (or set it on an extension). A
-- runbook copied without it still runs, in English: {} (a broken catalogue is an error).
function M.translations(name)
  local source = debug.getinfo(2, "S").source
  local dir = source:match("^@(.*)/[^/]*$") or "."
  local path = ("%s/%s.lua"):format(dir, name)
  local file = io.open(path)
  if not file then return {} end
  file:close()
  local chunk, why = loadfile(path, "t", {})
  if not chunk then error(("[runbook] translations %s: %s"):format(name, why), 2) end
  local ok, words = pcall(chunk)
  if not ok or type(words) ~= "table" then
    error(("[runbook] translations %s: %s"):format(name,
      ok and "must return a table { id = { de = …, fr = … } }" or tostring(words)), 2)
  end
  return words
end

-- Parameters and inventory fields are schema nodes (runbook.schema): a misspelt type or
-- key is the runbook author's error, said when the runbook is defined (at the line of its
-- runbook.define call, unless `return runbook.define {…}` left no line: a tail call).
local function check_declarations(definition)
  local tail_called = debug.getinfo(2, "t").istailcall
  local function refuse(message)
    error(("[runbook] %s: %s"):format(definition.id or "runbook", message), tail_called and 0 or 4)
  end
  for _, part in ipairs { "params", "inventory" } do
    if type(definition[part]) ~= "table" then
      refuse(t("declarations_table", part))
    end
    for name, node in pairs(definition[part]) do
      local problem = schema.declaration_problem(node, ("%s.%s"):format(part, tostring(name)))
      if problem then refuse(problem) end
    end
  end
end

--- define(table) -> runbook definition (validated)
function M.define(definition)
  definition.params = definition.params or {}
  definition.inventory = definition.inventory or {}
  check_declarations(definition)
  return setmetatable(validate(definition), Runbook)
end

function M.is_definition(value)
  return getmetatable(value) == Runbook
end

function Runbook:index_of(id)
  for i, step in ipairs(self.steps) do if step.id == id then return i end end
  local ids = {}
  for i, step in ipairs(self.steps) do ids[i] = step.id end
  error(t("no_such_step", self.id, tostring(id), table.concat(ids, ", ")), 3)
end

function Runbook:insert_before(id, step)
  table.insert(self.steps, self:index_of(id), step)
  return validate(self)
end

function Runbook:insert_after(id, step)
  table.insert(self.steps, self:index_of(id) + 1, step)
  return validate(self)
end

--- replace(id, step | function(old) -> step)
function Runbook:replace(id, step)
  local index = self:index_of(id)
  if type(step) == "function" then step = step(self.steps[index]) end
  self.steps[index] = step
  return validate(self)
end

function Runbook:remove(id)
  table.remove(self.steps, self:index_of(id))
  return validate(self)
end

--- add_check(id, { before = fn(ctx, host) -> ok, message, after = fn(ctx, host) -> ok, message })
-- adds an organization's checks to step `id`; both run in read-only tasks (they cannot change
-- anything) and get the same host as the step's own check.
-- before: guards what the step's own check lets through. It is asked right after that check,
--   in plan, run and resume alike: for a step with `run`, when the check finds a change to
--   make (a step already done is not held up by it); for a precondition (no `run`), when the
--   precondition holds. When before does not hold, the step is blocked with its message: plan
--   reports it, run stops there as for any failed step. It never turns a precondition into a
--   change: the step keeps no `run` of its own.
-- after: asked after the step's change on each host it changed, after the step's own verify;
--   when it does not hold, the step fails as with a failed verify. A precondition makes no
--   change, so an `after` check on one is refused (it would never be asked).
function Runbook:add_check(id, extra)
  local step = self.steps[self:index_of(id)]
  local check, verify = step.check, step.verify
  for key in pairs(extra) do
    if key ~= "before" and key ~= "after" then
      error(t("add_check_key", self.id, id, tostring(key)), 2)
    end
  end
  if extra.before then
    step.check = function(ctx, host)
      local results = table.pack(check(ctx, host))
      local holds = results[1]
      -- what the check lets through: a change to make, or a precondition that holds
      if (step.run and not holds) or (not step.run and holds) then
        local ok, message = extra.before(ctx, host)
        if not ok then
          error(i18n.t("precheck_failed", id, message or i18n.t("no_reason")), 0)
        end
      end
      return table.unpack(results, 1, results.n)
    end
  end
  if extra.after then
    if not step.run then
      error(t("after_never_asked", self.id, id), 2)
    end
    step.verify = function(ctx, host)
      if verify then
        local ok, message = verify(ctx, host)
        if not ok then return ok, message end
      end
      return extra.after(ctx, host)
    end
  end
  return validate(self)
end

--- extend(name) -> a copy of the shipped runbook `name`, to adapt and return.
function M.extend(name)
  local path, err = cli.find_runbook(name)
  if not path then error("[runbook] extend: " .. err, 2) end
  local chunk, syntax = loadfile(path, "t")
  if not chunk then error("[runbook] extend: " .. syntax, 2) end
  local base = chunk()
  if not M.is_definition(base) then
    error(t("not_a_definition", path), 2)
  end
  local copy = {}
  for key, value in pairs(base) do copy[key] = value end
  -- own tables of parameters and inventory fields: `failover.params.ticket = { … }` adds a
  -- parameter to this customization without touching the definition it was copied from
  for _, part in ipairs { "params", "inventory" } do
    copy[part] = {}
    for key, value in pairs(base[part]) do copy[part][key] = value end
  end
  copy.steps = {}
  for i, step in ipairs(base.steps) do
    local step_copy = {}
    for key, value in pairs(step) do step_copy[key] = value end
    copy.steps[i] = step_copy
  end
  copy.extends = base.id
  return setmetatable(copy, Runbook)
end

return M
