--- runbook.say — the one place Lua code talks to the operator (runtime/msg.c is the C twin).
-- Errors say what failed, where, and what to try; they go to stderr with the "runbook:"
-- prefix and are shown even with -q. Notes and warnings respect -q.
local M = { quiet = false, verbose = false }

local function emit(kind, text)
  io.stderr:write("runbook: ", kind, text, "\n")
  io.stderr:flush()
end

function M.setup(options)
  M.quiet = options.quiet and true or false
  M.verbose = options.verbose and true or false
end

function M.error(text) emit("", text) end

function M.warn(text)
  if not M.quiet then emit("warning: ", text) end
end

function M.note(text)
  if not M.quiet then emit("", text) end
end

--- The traceback of a failed task cut to what an operator can act on: frames in Lua
-- files (not the C plumbing), at most `limit` of them; everything with -v.
function M.short_traceback(traceback, limit)
  if not traceback then return nil end
  if M.verbose then return traceback end
  local frames = {}
  for line in traceback:gmatch("\n\t([^\n]+)") do
    if not line:find("^%[C%]") and #frames < (limit or 3) then frames[#frames + 1] = line end
  end
  if #frames == 0 then return nil end
  return "  at " .. table.concat(frames, "\n  at ")
end

return M
