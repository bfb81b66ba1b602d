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

-- The Lync emulator stands in for PowerShell in the local transport: the test harness lists
-- it in read-programs beside runbook.process (runtime/process.c), as an installation lists
-- a pwsh outside PATH, so that a read may start it; an inventory can add nothing there.
M.emulator = M.root .. "/tests/lab/lync-emulator"
for _, dir in ipairs { "/build/lib/runbook", "/build/asan/lib/runbook" } do
  local listing = M.root .. dir .. "/read-programs"
  local probe = io.open(M.root .. dir .. "/process.so", "rb")
  if probe then
    probe:close()
    if slurp(listing) ~= M.emulator .. "\n" then M.write(listing, M.emulator .. "\n") end
  end
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

-- The sanitizer run preloads ASan into busted only: child processes go without it (the
-- ASan build of runbook carries its own runtime, and other programs must not get one).
-- Leak detection is off for busted (lua5.4 and busted's own allocations are not ours) and
-- on for the children: $RUNBOOK_CHILD_ASAN_OPTIONS (tests/run.sh) replaces ASAN_OPTIONS.
local child_env = "unset LD_PRELOAD\n"
-- The emulated Windows servers cost nothing in the tests (lab.emulator.costs: the bench
-- charges the documented defaults); a spec that measures costs sets its own.
child_env = child_env .. 'LYNC_EMULATOR_COSTS="${LYNC_EMULATOR_COSTS:-0,0}"; '
  .. "export LYNC_EMULATOR_COSTS\n"
if os.getenv("RUNBOOK_CHILD_ASAN_OPTIONS") then
  child_env = child_env .. "ASAN_OPTIONS=\"$RUNBOOK_CHILD_ASAN_OPTIONS\"; export ASAN_OPTIONS\n"
    .. "LSAN_OPTIONS=suppressions=" .. M.root .. "/tests/lsan.supp; export LSAN_OPTIONS\n"
end

--- unwind_fully(): from now on, this spec's children record whole allocation stacks under
-- ASan (fast_unwind_on_malloc=0), so that tests/lsan.supp can tell a third-party library's
-- leak (gss-ntlmssp's, whose frames the fast unwinder cannot walk through libcrypto) from
-- ours. Four times the CPU of a child's allocations: only specs that authenticate with
-- NTLM ask for it.
function M.unwind_fully()
  if os.getenv("RUNBOOK_CHILD_ASAN_OPTIONS") and not child_env:find("fast_unwind", 1, true) then
    child_env = child_env .. "ASAN_OPTIONS=\"$ASAN_OPTIONS:fast_unwind_on_malloc=0\"\n"
  end
end

--- sh(command [, stdin]) -> {out=, err=, code=}: runs through /bin/sh. A sanitizer report
-- of a child (a leak, a bad access) fails the test whatever it asserts.
function M.sh(command, stdin)
  local dir = M.tmpdir()
  local input = stdin and M.write(dir .. "/stdin", stdin) or "/dev/null"
  local ok, how, code = os.execute(("%s{\n%s\n} <%s >%s/out 2>%s/err"):format(
    child_env, command, input, dir, dir))
  local result = { out = slurp(dir .. "/out"), err = slurp(dir .. "/err"),
                   code = how == "exit" and code or 128 + code, ok = ok }
  os.execute("rm -rf " .. M.quote(dir))
  local report = result.err:match("ERROR: LeakSanitizer[^\n]*") or
    result.err:match("ERROR: AddressSanitizer[^\n]*")
  if report then error(("%s\n  in: %s\n%s"):format(report, command, result.err), 2) end
  return result
end

--- runbook(args [, stdin]) -> {out=, err=, code=}: the binary under test.
function M.runbook(args, stdin)
  return M.sh(M.quote(M.bin) .. " " .. args, stdin)
end

--- on_lab(dir, args) -> {out=, err=, code=}: the binary on the embedded lab with a state
-- directory of its own (dir/state) and the lab's world kept in dir/lab.
function M.on_lab(dir, args)
  return M.sh(("mkdir -p %s/lab && RUNBOOK_STATE_DIR=%s %s %s --set lab.state_dir=%s"):format(
    M.quote(dir), M.quote(dir .. "/state"), M.quote(M.bin), args, M.quote(dir .. "/lab")))
end

--- crash_hook(dir, step [, moment]) -> path of a runbook that extends xmpp-failover and
-- dies by kill -9 at `moment` of `step`. The step's hosts go one at a time (limit 1), so
-- that each moment is one well-defined point:
--   "first-host" (default): right after the change on the first host (a one-host step:
--     right after its change), before that outcome is journaled;
--   "next-host": the first host's outcome journaled, the next host not begun (its check);
--   "all-hosts": right after the change on the last host, before that outcome;
--   "boundary": every outcome of the step journaled, the next step not begun (the check
--     of a step inserted after it, which the plan asks once and the run asks again).
-- The kill comes from outside, as a crash would: checks and verifies run read-only, where
-- no command may run, so the runbook starts a watcher when it loads. The watcher waits to
-- open a FIFO for writing, which succeeds the moment die() opens it for reading, and then
-- sends SIGKILL; die() meanwhile waits to open a second FIFO that nobody ever writes.
function M.crash_hook(dir, step, moment)
  return M.write(dir .. "/crash.lua", ([[
    local failover = require("runbook").extend "xmpp-failover"
    local step_id, moment, fifo = %q, %q, %q
    os.execute(("rm -f '%%s' '%%s.wait'; mkfifo '%%s' '%%s.wait'; "
      .. "(timeout 120 sh -c \": >'%%s'\" && kill -9 %%d) &"):format(fifo, fifo, fifo, fifo,
      fifo, require("runbook.fs").pid()))
    local function die()
      io.open(fifo, "r"):close()
      io.open(fifo .. ".wait", "r")
    end
    local step = failover.steps[failover:index_of(step_id)]
    local function host_count(ctx) return step.hosts and #step.hosts(ctx) or 1 end
    step.limit = 1
    if moment == "boundary" then
      local asked = 0
      failover:insert_after(step_id, { id = "crash-here", check = function()
        asked = asked + 1
        if asked == 2 then die() end
        return true
      end })
    elseif moment == "next-host" then
      local check, asked = step.check, 0
      step.check = function(ctx, host)   -- the plan asks every host, then the run does
        asked = asked + 1
        if asked == host_count(ctx) + 2 then die() end
        return check(ctx, host)
      end
    else
      local changed = 0
      failover:add_check(step_id, { after = function(ctx)
        changed = changed + 1
        if moment == "first-host" or changed == host_count(ctx) then die() end
        return true
      end })
    end
    return failover
  ]]):format(step, moment or "first-host", dir .. "/crash.fifo"))
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
