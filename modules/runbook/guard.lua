--- runbook.guard — Lua's own ways to change this machine refuse while planning and inside a
-- read-only task (a step's hosts, check and verify), as runbook's primitives do in C:
--   os.execute(command), io.popen, os.remove, os.rename, os.tmpname,
--   io.open with a mode that writes ("w", "a" or "+"), io.output(file name),
--   runbook.fs.append, runbook.fs.create, runbook.fs.mkdir.
-- ./runbook installs it at start-up (runtime/host.c), before any runbook or module is loaded:
-- the functions are replaced in the io, os and runbook.fs tables themselves, so a runbook and
-- every module it calls get the guarded ones. The refusal is task.check_mutation's:
--   "refusing to run `touch /tmp/x` (os.execute) while planning: `runbook plan` changes nothing"
-- Reads (io.open "r", io.lines, io.input, os.getenv …) and os.exit are left alone.
--
-- Exempt, by the file that calls: the engine's own bookkeeping, which runs in plan mode and
-- in checks by design — the secrets prompt (stty, /dev/tty), the audit log, the journal's
-- state directory — and the embedded lab, which creates its simulated world on first use.
-- The exemption looks at the first Lua function on the stack that called the guarded one
-- (C functions in between, such as pcall, are skipped); after a tail call the caller is
-- unknown, and the call refuses.
local core = require "runbook.task.core"
local fs = require "runbook.fs"

local M = {}

M.ENGINE_FILES = {
  ["runbook/secrets.lua"] = true, ["runbook/output.lua"] = true,
  ["runbook/journal.lua"] = true, ["embedded_lab.lua"] = true, ["lync/emulator.lua"] = true,
}

-- Whether source (a chunk name, "@path/modules/runbook/secrets.lua") is an exempt file.
local function engine_file(source)
  local relative = source:match("^@modules/(.+)$") or source:match("^@.*/modules/(.+)$")
  return relative ~= nil and M.ENGINE_FILES[relative] == true
end

-- Whether the guarded function at `level` was called by an exempt file.
local function called_by_engine(level)
  if debug.getinfo(level, "t").istailcall then return false end
  for caller = level + 1, math.huge do
    local info = debug.getinfo(caller, "St")
    if not info then return false end
    if info.what ~= "C" then return engine_file(info.source) end
    if info.istailcall then return false end
  end
end

-- Raises the refusal at the caller of the guarded function, unless it may change things now.
local function refuse_unless_allowed(what)
  local allowed, refusal = pcall(core.check_mutation, what)
  if allowed or called_by_engine(3) then return end
  error(refusal, 3)
end

local function shown(text)
  text = tostring(text)
  return #text > 80 and text:sub(1, 77) .. "..." or text
end

-- Replaces t[name] with fn(original).
local function wrap(t, name, fn)
  t[name] = fn(t[name])
end

function M.install()
  wrap(os, "execute", function(execute)
    return function(command)
      if command ~= nil then
        refuse_unless_allowed(("run `%s` (os.execute)"):format(shown(command)))
      end
      return execute(command)
    end
  end)
  wrap(io, "popen", function(popen)
    return function(command, ...)
      refuse_unless_allowed(("run `%s` (io.popen)"):format(shown(command)))
      return popen(command, ...)
    end
  end)
  wrap(os, "remove", function(remove)
    return function(path)
      refuse_unless_allowed(("remove %s (os.remove)"):format(shown(path)))
      return remove(path)
    end
  end)
  wrap(os, "rename", function(rename)
    return function(from, to)
      refuse_unless_allowed(("rename %s to %s (os.rename)"):format(shown(from), shown(to)))
      return rename(from, to)
    end
  end)
  wrap(os, "tmpname", function(tmpname)
    return function()
      refuse_unless_allowed("create a temporary file (os.tmpname)")
      return tmpname()
    end
  end)
  wrap(io, "open", function(open)
    return function(path, mode)
      if mode ~= nil and tostring(mode):find("[wa+]") then
        refuse_unless_allowed(("open %s for writing (io.open mode %q)"):format(shown(path),
                                                                                tostring(mode)))
      end
      return open(path, mode)
    end
  end)
  wrap(io, "output", function(output)
    return function(file)
      if type(file) == "string" then
        refuse_unless_allowed(("open %s for writing (io.output)"):format(shown(file)))
      end
      return output(file)
    end
  end)
  for name, doing in pairs { append = "append to", create = "create", mkdir = "create" } do
    wrap(fs, name, function(original)
      return function(path, ...)
        refuse_unless_allowed(("%s %s (runbook.fs.%s)"):format(doing, shown(path), name))
        return original(path, ...)
      end
    end)
  end
end

M.install()

return M
