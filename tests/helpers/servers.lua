--- helpers.servers — starts the real servers of the test lab for a spec and stops them again.
-- Each server has a script tests/lab/NAME.sh with two verbs:
--   tests/lab/NAME.sh start WORKDIR [ARGS...]  starts it in the background, waits until it
--       answers its protocol (never by sleeping blindly), then prints key=value lines
--       (pid=, address=, port=, and whatever a client needs) and exits 0; exits non-zero
--       with the server's log tail on stderr when it does not come up within its deadline;
--   tests/lab/NAME.sh stop WORKDIR  stops exactly the PID it started and removes nothing
--       else.
-- Every server binds loopback addresses (127.0.0.0/8) or lives in a network namespace the
-- script creates itself; no test reaches any other address.
local support = require "support"

local M = {}

--- start(name, ...) -> server: {name=, dir=, pid=, ...key=value lines...}
-- Raises with the script's stderr when the server does not come up.
function M.start(name, ...)
  local dir = support.tmpdir()
  local args = {}
  for i, arg in ipairs { ... } do args[i] = support.quote(arg) end
  local r = support.sh(("tests/lab/%s.sh start %s %s"):format(name, support.quote(dir),
    table.concat(args, " ")))
  if r.code ~= 0 then
    error(("lab server %s did not start (exit %d):\n%s"):format(name, r.code, r.err), 2)
  end
  local server = { name = name, dir = dir }
  for key, value in r.out:gmatch("([%w_]+)=([^\n]*)") do server[key] = value end
  return server
end

--- stop(server): stops it and removes its work directory.
function M.stop(server)
  if not server then return end
  support.sh(("tests/lab/%s.sh stop %s"):format(server.name, support.quote(server.dir)))
  os.execute("rm -rf " .. support.quote(server.dir))
end

return M
