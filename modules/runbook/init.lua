--- runbook — the language runbooks are written in.
--
--   local runbook = require "runbook"
--   return runbook.define {
--     id = "xmpp-failover", title = { en = …, de = …, fr = … },
--     params = { site = { type = "string", required = true, description = "…" } },
--     inventory = { domain = { type = "string", required = true } },   -- schema fields
--     steps = {
--       { id = "stop-services", title = { en = …, de = …, fr = … },
--         hosts = function(ctx) return ctx.inventory.edge_servers end,   -- optional fan-out
--         check = function(ctx, host) return holds, current, desired end, -- read-only
--         run = function(ctx, host) … end,                                -- the change
--         verify = function(ctx, host) return ok, message end,           -- optional
--         rollback = function(ctx, host) … end,                          -- optional
--         confirm = true, guidance = { en = … } },                        -- optional
--     },
--   }
--
-- A step without `run` is a precondition: when its check does not hold, the run stops
-- with its guidance. Organizations adapt a shipped runbook without copying it:
--   local failover = runbook.extend "xmpp-failover"
--   failover:insert_before("stop-services", { id = "notify", … })
--   return failover
local M = {}

local Runbook = {}
Runbook.__index = Runbook
Runbook.__name = "runbook.definition"

local STEP_KEYS = { id = true, title = true, hosts = true, check = true, run = true,
  verify = true, rollback = true, confirm = true, guidance = true, limit = true,
  description = true }

local function fail(definition, message)
  error(("[runbook] %s: %s"):format(definition.id or "runbook", message), 3)
end

local function check_step(definition, step, seen)
  if type(step) ~= "table" then fail(definition, "every step must be a table { id = …, … }") end
  if type(step.id) ~= "string" or step.id == "" then
    fail(definition, "a step has no id (give every step id = \"some-name\")")
  end
  if seen[step.id] then fail(definition, ("two steps have the id '%s'"):format(step.id)) end
  seen[step.id] = true
  for key in pairs(step) do
    if not STEP_KEYS[key] then fail(definition, ("step '%s': unknown key '%s'"):format(step.id, key)) end
  end
  if type(step.check) ~= "function" then
    fail(definition, ("step '%s' needs a check function (read-only: does the desired state "
      .. "hold already?)"):format(step.id))
  end
  for _, key in ipairs { "run", "verify", "rollback", "hosts" } do
    if step[key] ~= nil and type(step[key]) ~= "function" then
      fail(definition, ("step '%s': %s must be a function"):format(step.id, key))
    end
  end
end

local function validate(definition)
  if type(definition.id) ~= "string" then fail(definition, "a runbook needs an id") end
  if type(definition.steps) ~= "table" then fail(definition, "a runbook needs steps = { … }") end
  local seen = {}
  for _, step in ipairs(definition.steps) do check_step(definition, step, seen) end
  return definition
end

--- define(table) -> runbook definition (validated)
function M.define(definition)
  definition.params = definition.params or {}
  definition.inventory = definition.inventory or {}
  return setmetatable(validate(definition), Runbook)
end

function M.is_definition(value)
  return getmetatable(value) == Runbook
end

function Runbook:index_of(id)
  for i, step in ipairs(self.steps) do if step.id == id then return i end end
  local ids = {}
  for i, step in ipairs(self.steps) do ids[i] = step.id end
  error(("[runbook] %s has no step '%s' (its steps: %s)"):format(self.id, id,
    table.concat(ids, ", ")), 3)
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

--- add_check(id, {before = fn(ctx, host) -> ok, message, after = fn(...)}): an extra check
-- of the organization before the step's change (must hold, else the step fails) or after it
-- (an extra verification).
function Runbook:add_check(id, extra)
  local step = self.steps[self:index_of(id)]
  local run, verify = step.run, step.verify
  if extra.before then
    step.run = function(ctx, host)
      local ok, message = extra.before(ctx, host)
      if not ok then error(("pre-check of step '%s' failed: %s"):format(id, message or "no reason given"), 0) end
      if run then return run(ctx, host) end
    end
  end
  if extra.after then
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
  local cli = require "runbook.cli"
  local path, err = cli.find_runbook(name)
  if not path then error("[runbook] extend: " .. err, 2) end
  local chunk, syntax = loadfile(path, "t")
  if not chunk then error("[runbook] extend: " .. syntax, 2) end
  local base = chunk()
  if not M.is_definition(base) then
    error(("[runbook] extend: %s does not return a runbook definition"):format(path), 2)
  end
  local copy = {}
  for key, value in pairs(base) do copy[key] = value end
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
