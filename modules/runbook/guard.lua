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
-- Exempt: the engine's own bookkeeping, which runs in plan mode and in checks by design —
-- the secrets prompt (stty, /dev/tty), the audit log, the journal's state directory — and
-- the embedded lab, which creates its simulated world on first use. Their modules
-- (M.ENGINE_MODULES) are loaded by the guard itself, from the files package.path named when
-- it was installed, in an environment whose io, os and runbook.fs hold the unguarded
-- functions: a capability only their code holds. Nothing looks at who calls, so nothing
-- can pretend to be them (a chunk loaded under an engine file's name, a file of the same
-- name earlier in package.path): any other code gets the guarded functions.
local core = require "runbook.task.core"
local fs = require "runbook.fs"
local require, loadfile, setmetatable = require, loadfile, setmetatable

local M = {}

M.ENGINE_MODULES = { "runbook.secrets", "runbook.output", "runbook.journal", "lab.world",
                     "lab.emulator" }

-- The functions the guard replaces, as they were: what the engine's modules are given.
local unguarded = { io = {}, os = {}, fs = {} }

-- Raises the refusal at the caller of the guarded function, unless it may change things now.
local function refuse_unless_allowed(what)
  local allowed, refusal = pcall(core.check_mutation, what)
  if not allowed then error(refusal, 3) end
end

local function shown(text)
  text = tostring(text)
  return #text > 80 and text:sub(1, 77) .. "..." or text
end

-- Replaces t[name] with fn(original), keeping the original for the engine's modules.
local function wrap(t, name, fn)
  local kept = t == io and unguarded.io or t == os and unguarded.os or unguarded.fs
  kept[name] = t[name]
  t[name] = fn(t[name])
end

-- The environment of an engine module: the global one, but io, os and runbook.fs (through
-- its require) hold the unguarded functions.
local function engine_environment()
  local private = { io = setmetatable(unguarded.io, { __index = io }),
                    os = setmetatable(unguarded.os, { __index = os }),
                    fs = setmetatable(unguarded.fs, { __index = fs }) }
  return setmetatable({
    io = private.io, os = private.os,
    require = function(name)
      if name == "runbook.fs" then return private.fs end
      return require(name)
    end,
  }, { __index = _G, __newindex = _G })
end

-- A searcher ahead of Lua's own: the engine's modules, from the files found now.
local function install_engine_searcher()
  local files, environment = {}, engine_environment()
  for _, name in ipairs(M.ENGINE_MODULES) do
    files[name] = package.searchpath(name, package.path)
  end
  table.insert(package.searchers, 2, function(name)
    local file = files[name]
    if not file then return nil end
    local chunk, err = loadfile(file, "t", environment)
    if not chunk then error(("error loading module '%s' from file '%s':\n\t%s")
                            :format(name, file, err), 0) end
    return chunk, file
  end)
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
  install_engine_searcher()
end

M.install()

return M
