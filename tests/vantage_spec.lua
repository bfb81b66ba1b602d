-- Checks from an external vantage point through SSH (modules/vantage.lua), in network
-- namespaces (tests/lab/netns.sh): the operator rbn-op (10.252.0.1), the server rbn-srv
-- (10.252.0.2: 5269 listens, 5270 nothing, 5271 dropped, and 5269 dropped for the vantage
-- host only — a perimeter firewall) and the vantage host rbn-vp (10.252.0.3), where a real
-- sshd runs. #net #netns
local lab = require "lab"
local lab_lock = require "lab_lock"
local support = require "support"
local quote = support.quote

describe("port states from an SSH vantage host #net #netns", function()
  local release, hosts, sshd, scratch
  setup(function()
    release = lab_lock.acquire("rbn")
    hosts = lab.start("netns")
    scratch = support.tmpdir()
    sshd = { name = "sshd", dir = scratch .. "/sshd" }
    os.execute("mkdir -p " .. quote(sshd.dir))
    local r = support.sh(("ip netns exec rbn-vp tests/lab/sshd.sh start %s auto 10.252.0.3"):format(
      quote(sshd.dir)))
    assert(r.code == 0, r.err)
    for key, value in r.out:gmatch("([%w_]+)=([^\n]*)") do sshd[key] = value end
  end)
  teardown(function()
    if sshd then support.sh("tests/lab/sshd.sh stop " .. quote(sshd.dir)) end
    lab.stop(hosts)
    os.execute("rm -rf " .. quote(scratch))
    release()
  end)

  local function from_operator(script)
    local path = support.write(scratch .. "/check.lua", script)
    return support.sh(("ip netns exec rbn-op %s run %s"):format(quote(support.bin), quote(path)))
  end

  it("sees filtered from outside where the operator sees open, and says from where", function()
    local r = from_operator(([[
      local vantage = require("vantage").new { name = "vp", address = "10.252.0.3",
        port = %s, user = %q, key_file = %q, known_hosts = %q }
      local net = require "runbook.net"
      for _, port in ipairs { 5269, 5270, 5271 } do
        local inside = net.connect { host = "10.252.0.2", port = port, timeout = 1 }
        local outside = vantage.connect { host = "10.252.0.2", port = port, timeout = 1 }
        print(port, inside.state, outside.state, outside.from)
      end
    ]]):format(sshd.port, sshd.user, sshd.shell_key, sshd.known_hosts))
    assert.equal(0, r.code, r.err)
    assert.matches("5269\topen\tfiltered\tvantage host vp", r.out)
    assert.matches("5270\tclosed\tclosed\t", r.out)
    assert.matches("5271\tfiltered\tfiltered\t", r.out)
  end)

  it("fails with what to do when the vantage host cannot be reached", function()
    local r = from_operator(([[
      local vantage = require("vantage").new { name = "vp", address = "10.252.0.3",
        port = 1, user = %q, key_file = %q, known_hosts = %q, timeout = 2 }
      vantage.connect { host = "10.252.0.2", port = 5269, timeout = 1 }
    ]]):format(sshd.user, sshd.shell_key, sshd.known_hosts))
    assert.equal(1, r.code)
    assert.matches("%[vantage%] cannot reach the vantage host vp", r.err)
  end)
end)
