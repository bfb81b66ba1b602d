--- support — helpers shared by the specs: run a command and capture what it printed,
-- make scratch directories, write files. Nothing here waits by sleeping.
local M = {}

M.root = os.getenv("PWD")
M.bin = os.getenv("RUNBOOK_BIN") or (M.root .. "/runbook")

local function slurp(path)
  local file = io.open(path, "rb")
  if not file then return "" end
  local text = file:read("a")
  file:close()
  return text
end
M.slurp = slurp

function M.write(path, text)
  local file = assert(io.open(path, "wb"))
  file:write(text)
  file:close()
  return path
end

function M.quote(word)
  return "'" .. tostring(word):gsub("'", "'\\''") .. "'"
end

function M.tmpdir()
  local pipe = io.popen("mktemp -d /tmp/runbook-test.XXXXXX")
  local dir = pipe:read("l")
  pipe:close()
  return dir
end

--- sh(command [, stdin]) -> {out=, err=, code=}: runs through /bin/sh. The sanitizer
-- run preloads ASan into busted only: child processes go without (the ASan build of
-- runbook carries its own runtime, and other programs must not get one).
function M.sh(command, stdin)
  local dir = M.tmpdir()
  local input = stdin and M.write(dir .. "/stdin", stdin) or "/dev/null"
  local ok, how, code = os.execute(("unset LD_PRELOAD\n{\n%s\n} <%s >%s/out 2>%s/err"):format(
    command, input, dir, dir))
  local result = { out = slurp(dir .. "/out"), err = slurp(dir .. "/err"),
                   code = how == "exit" and code or 128 + code, ok = ok }
  os.execute("rm -rf " .. M.quote(dir))
  return result
end

--- runbook(args [, stdin]) -> {out=, err=, code=}: the binary under test.
function M.runbook(args, stdin)
  return M.sh(M.quote(M.bin) .. " " .. args, stdin)
end

--- crash_hook(dir, step) -> path of a runbook that extends xmpp-failover and dies by
-- kill -9 right after `step`'s change, before its outcome is journaled.
function M.crash_hook(dir, step)
  return M.write(dir .. "/crash.lua", ([[
    local failover = require("runbook").extend "xmpp-failover"
    failover:add_check(%q, { after = function()
      os.execute("kill -9 " .. require("runbook.fs").pid())
      return true
    end })
    return failover
  ]]):format(step))
end

--- crashed_journal(state_dir) -> the journal of the crashed run, pointed at the shipped
-- xmpp-failover, so that `runbook resume` continues without the crash hook.
function M.crashed_journal(state_dir)
  local journal
  for _, name in ipairs(require("runbook.fs").list(state_dir)) do
    if name:match("%.jsonl$") then journal = state_dir .. "/" .. name end
  end
  M.write(journal, (slurp(journal):gsub('"runbook":"[^"]*"', '"runbook":"xmpp-failover"', 1)))
  return journal
end

return M
