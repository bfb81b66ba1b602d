--- runbook.preflight — before the first change, prove every capability the run will need,
-- so that a run never stops half-way for something that could have been known before it
-- began (a host that does not answer or refuses the login, a DNS key the server does not
-- accept, a vantage host that will not forward, a cmdlet missing on its server).
--
-- A step declares what it needs: `needs = function(ctx) return { need, ... } end`, each need
-- a table whose `kind` names a prover, e.g. { kind = "windows", host = h, cmdlets = {...} }.
-- Owners register the provers of their kinds (the engine knows none):
--   preflight.register("windows", { key = function(need) return need.host.name end,
--     prove = function(ctx, need) return true, "what was proven" | nil, "blocker" end })
-- Every need of every step the run will reach is proven once (needs with the same kind and
-- key are one), concurrently, in read-only tasks: preflight changes nothing, so `plan`
-- runs it too and reports it.
local phase = require "runbook.phase"
local task = require "runbook.task"

local M = {}

local provers = {}

--- register(kind, { key = fn(need) -> string, prove = fn(ctx, need) -> ok, text,
--                    merge = fn(into, need) (optional: two needs with one key become one) })
function M.register(kind, prover)
  assert(type(prover) == "table" and type(prover.prove) == "function",
    "[preflight] register(kind, { key =, prove = })")
  provers[kind] = prover
end

-- Runs fn in a read-only task and returns what it returned, or false and the error.
local function read_only(fn, ...)
  local outcome = table.pack(pcall(task.read_only, fn, ...))
  if not outcome[1] then return false, outcome[2] end
  return table.unpack(outcome, 2, outcome.n)
end

-- The needs of the steps the run will reach (plan entries that change or are pending),
-- each once: a list of {kind=, key=, need=, steps={ids}}.
local function collect(session, entries)
  local found, by_key = {}, {}
  for number, step in ipairs(session.definition.steps) do
    local entry = entries[number]
    local reached = entry and (entry.status == "change" or entry.status == "pending")
    if reached and step.needs then
      local ok, needs = pcall(task.read_only, step.needs, session.ctx)
      if ok and type(needs) ~= "table" then ok, needs = false, "needs() returned no list" end
      if not ok then
        found[#found + 1] = { kind = "needs", key = step.id, steps = { step.id },
                              error = tostring(needs) }
      else
        for _, need in ipairs(needs) do
          local prover = provers[need.kind]
          local key = prover and prover.key and prover.key(need) or tostring(need.key or "")
          local id = tostring(need.kind) .. "|" .. key
          if by_key[id] then
            table.insert(by_key[id].steps, step.id)
            if prover and prover.merge then prover.merge(by_key[id].need, need) end
          else
            by_key[id] = { kind = need.kind, key = key, need = need, steps = { step.id } }
            found[#found + 1] = by_key[id]
          end
        end
      end
    end
  end
  return found
end

--- prepare(session): before the plan's first check, every prover with a prepare function
-- gets the needs of every step at once (prepare(ctx, needs), in a read-only task), to start
-- what takes long without waiting for it — the windows prover opens every server's
-- PowerShell session in parallel. It proves nothing: a failure is left to the check or
-- the proof that meets it, named by its real cause there.
function M.prepare(session)
  local by_kind = {}
  for _, step in ipairs(session.definition.steps) do
    local ok, needs = pcall(task.read_only, step.needs or function() return {} end,
                            session.ctx)
    for _, need in ipairs(ok and type(needs) == "table" and needs or {}) do
      local prover = provers[need.kind]
      if prover and prover.prepare then
        by_kind[need.kind] = by_kind[need.kind] or {}
        table.insert(by_kind[need.kind], need)
      end
    end
  end
  for kind, needs in pairs(by_kind) do
    pcall(task.read_only, provers[kind].prepare, session.ctx, needs)
  end
end

--- run(session, entries) -> results, blocked: every need proven; results are
-- {kind=, key=, steps=, ok=, text=}, blocked is true when any failed.
function M.run(session, entries)
  phase.begin("preflight")
  local found = collect(session, entries)
  local results = task.parallel(found, function(item)
    if item.error then
      return { kind = item.kind, key = item.key, steps = item.steps, ok = false, text = item.error }
    end
    local prover = provers[item.kind]
    if not prover then
      return { kind = item.kind, key = item.key, steps = item.steps, ok = false,
               text = ("no prover for the need %q: require the module that owns it"):format(
                 tostring(item.kind)) }
    end
    local ok, text = read_only(prover.prove, session.ctx, item.need)
    if not ok and text == "cancelled" then error(text, 0) end
    if ok and text == nil then text = "" end
    text = tostring(text or ""):gsub("[^%s:]*/modules/[^%s:]+%.lua:%d+: ", "")  -- no source path
    return { kind = item.kind, key = item.key, steps = item.steps, ok = ok and true or false,
             text = tostring(text or "") }
  end, { limit = 16 })
  local blocked = false
  for _, result in ipairs(results) do blocked = blocked or not result.ok end
  return results, blocked
end

return M
