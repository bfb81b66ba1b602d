-- bench/cmdlets.lua KEY KNOWN_HOSTS PORT ADDRESS... — Get-CsWindowsService on every
-- address at once through the cmdlet layer over SSH (one connection each), as a runbook
-- step would. Prints one line per host: address and number of services (checked by
-- bench/cmdlets.sh before timing). Runs under lua5.4 with build/lib/runbook.so.
package.path = "modules/?.lua;" .. package.path
package.cpath = "build/lib/?.so;" .. package.cpath
local task = require "runbook.task"
local cmdlet = require "cmdlet"

local key, known_hosts, port = arg[1], arg[2], tonumber(arg[3])
local hosts = {}
for i = 4, #arg do
  hosts[#hosts + 1] = { name = arg[i], transport = "ssh", address = arg[i], port = port,
                        user = os.getenv("USER") or "root", key_file = key,
                        known_hosts = known_hosts }
end
local results, failures = task.parallel(hosts, function(host)
  return #cmdlet(host, "Get-CsWindowsService", {})
end)
for _, failure in ipairs(failures) do io.stderr:write(failure.error, "\n") end
for i, host in ipairs(hosts) do print(host.address, results[i]) end
os.exit(#failures == 0 and 0 or 1)
