--- runbook.say — the one place Lua code talks to the operator (runtime/msg.c is the C twin).
-- Errors say what failed, where, and what to try; they go to stderr with the "runbook:"
-- prefix and are shown even with -q. Notes and warnings respect -q. No resolved secret is
-- shown (runbook.secrets, consulted only once something has loaded it: no secret before).
local host = require "runbook.host"

local M = { quiet = false, verbose = false }

--- text with every document it names ("docs/verification.md") named where the documents
-- are: the source tree's docs/, or the installed $(PREFIX)/share/doc/runbook.
function M.naming_docs(text)
  return (text:gsub("%f[%w/]docs/([%w_%-]+%.md)", function(name)
    return host.docdir .. "/" .. name
  end))
end

local function emit(kind, text)
  local secrets = package.loaded["runbook.secrets"]
  if secrets then text = secrets.redact(text) end
  text = M.naming_docs(text)
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

-- Frames of the host's own Lua (modules/runbook/: the command line, the engine) say
-- nothing an operator can act on; runbooks and the modules they use are theirs.
local function is_host_frame(frame)
  return frame:find("^%[C%]") or frame:find("^[^:]*modules/runbook/[%w_]+%.lua:")
end

--- The traceback of a failed task cut to what an operator can act on: frames in the
-- runbook and its modules, at most `limit` of them. With -v the whole stack, without the
-- message again (the caller has printed it).
function M.short_traceback(traceback, limit)
  if not traceback then return nil end
  if M.verbose then return traceback:match("\n(stack traceback:\n.*)$") or traceback end
  local frames = {}
  for line in traceback:gmatch("\n\t([^\n]+)") do
    if not is_host_frame(line) and #frames < (limit or 3) then
      -- cli.lua calls a runbook's top level through a local named chunk
      frames[#frames + 1] = line:gsub(": in local 'chunk'$", ": in main chunk")
    end
  end
  if #frames == 0 then return nil end
  return "  at " .. table.concat(frames, "\n  at ")
end

return M
