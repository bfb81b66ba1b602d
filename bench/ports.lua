-- bench/ports.lua ADDRESS FIRST LAST [LIMIT] — the state of every port FIRST..LAST on ADDRESS
-- with net.connect under task.parallel; prints "open N closed N filtered N".
local net = require "runbook.net"
local task = require "runbook.task"

local address, first, last = arg[1], tonumber(arg[2]), tonumber(arg[3])
local limit = tonumber(arg[4] or "500")
local targets = {}
for port = first, last do targets[#targets + 1] = { host = address, port = port, timeout = 1 } end
local results, failures = task.run(task.parallel, targets, net.connect, { limit = limit })
assert(#failures == 0, failures[1] and failures[1].error)
local counts = { open = 0, closed = 0, filtered = 0, unreachable = 0 }
for _, result in ipairs(results) do counts[result.state] = counts[result.state] + 1 end
print(("open %d closed %d filtered %d"):format(counts.open, counts.closed, counts.filtered))
