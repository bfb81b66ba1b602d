-- bench/dns.lua update ADDRESS PORT KEYFILE — one TSIG-signed update (replace www A);
-- bench/dns.lua queries ADDRESS PORT N — N queries in flight at once; prints "answered N".
local dns = require "runbook.dns"
local dns_key = require "dns.key"
local task = require "runbook.task"

local mode, address, port = arg[1], arg[2], tonumber(arg[3])
if mode == "update" then
  local key = assert(dns_key.read(arg[4]))
  task.run(function()
    assert(dns.update { server = address, port = port, zone = "contoso.com", key = key,
      changes = { { op = "delete_rrset", name = "www.contoso.com", type = "A" },
                  { op = "add", name = "www.contoso.com", type = "A", ttl = 60,
                    address = "192.0.2.80" } } })
  end)
  print("updated")
else
  local items = {}
  for i = 1, tonumber(arg[4]) do items[i] = i end
  local results, failures = task.run(task.parallel, items, function()
    return assert(dns.query { name = "sip.contoso.com", type = "A", server = address,
                              port = port, timeout = 5 }).records[1].address
  end)
  assert(#failures == 0, failures[1] and failures[1].error)
  print(("answered %d"):format(#results))
end
