-- tests/lab/delay_relay.py, the lab's WAN (issues 15, 16): TCP and UDP forwarded each way a
-- fixed delay later, intact and in order, every chunk logged; bench/round_trips.py counts
-- the round trips from the log. Peers: tests/lab/hostile.sh's echo, a refusing port, BIND
-- (tests/lab/named.sh). The delays are lower bounds the relay cannot undercut, whatever the
-- machine's load: nothing here waits on an upper bound.
local net = require "runbook.net"
local task = require "runbook.task"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"

local RELAY, PEERS, DNS = "127.0.19.1", "127.0.19.2", "127.0.19.53"
local BASE, DNS_PORT, CLOSED = 45501, 5313, 45599
local DELAY = 0.010                        -- one way: RTT 20 ms

describe("the delay relay #relay", function()
  local peers, named, relay, release

  setup(function()
    release = lab_lock.acquire("delay_relay")
    peers = lab.start("hostile", PEERS, BASE)
    named = lab.start("named", DNS, DNS_PORT)
    relay = lab.start("delay_relay", DELAY * 1000,
      ("%s:%s=%s:%s"):format(RELAY, peers.echo, PEERS, peers.echo),
      ("%s:%d=%s:%d"):format(RELAY, DNS_PORT, DNS, DNS_PORT),
      ("%s:%d=%s:%d"):format(RELAY, CLOSED, PEERS, CLOSED))
  end)

  teardown(function()
    lab.stop(relay)
    lab.stop(named)
    lab.stop(peers)
    if release then release() end
  end)

  -- The log's lines from byte offset on, without their times.
  local function log_since(offset)
    local events = {}
    for line in support.slurp(relay.log):sub(offset + 1):gmatch("[^\n]+") do
      events[#events + 1] = line:match("^%S+ (.*)$")
    end
    return events
  end

  local function contains(list, wanted)
    for _, item in ipairs(list) do
      if item:find(wanted, 1, true) then return true end
    end
    return false
  end

  it("delays each TCP exchange by a round trip, the first also by the handshake's", function()
    local offset = #support.slurp(relay.log)
    local took = task.run(function()
      local socket <close> = assert(net.open { host = RELAY, port = tonumber(peers.echo) })
      local times = {}
      for i, word in ipairs { "ping", "pong" } do
        local started = task.now()
        assert(socket:send(word))
        assert.equal(word, assert(socket:receive(4, { timeout = 5 })))
        times[i] = task.now() - started
      end
      return times
    end)
    assert.is_true(took[1] >= 4 * DELAY, "first exchange " .. took[1])   -- SYN…ACK, data
    assert.is_true(took[2] >= 2 * DELAY, "second exchange " .. took[2])
    local events = task.run(function()     -- the relay logs the client's FIN when it reads it
      local deadline = task.now() + 5
      while not contains(log_since(offset), "eof c") and task.now() < deadline do
        task.sleep(0.01)
      end
      return log_since(offset)
    end)
    for _, wanted in ipairs { "open", "c>s 4", "to-s 4", "s>c 4", "to-c 4", "eof c" } do
      assert.is_true(contains(events, wanted), wanted .. " not in the log:\n"
        .. table.concat(events, "\n"))
    end
    local counted = support.sh(("/usr/bin/python3 bench/round_trips.py %s %d %g"):format(
      support.quote(relay.log), offset, DELAY * 1000))
    assert.matches("^round_trips=3 units=1 ", counted.out)   -- the handshake and two echoes
  end)

  it("keeps the bytes and their order", function()
    local sent, back = {}, {}
    for i = 1, 200 do sent[i] = ("%05d:"):format(i) .. ("x"):rep(i) end
    local whole = table.concat(sent)
    local received = task.run(function()
      local socket <close> = assert(net.open { host = RELAY, port = tonumber(peers.echo) })
      local reader = task.spawn(function()
        local got = 0
        while got < #whole do
          local data = assert(socket:receive(65536, { timeout = 5 }))
          back[#back + 1] = data
          got = got + #data
        end
      end)
      for _, piece in ipairs(sent) do assert(socket:send(piece)) end
      reader:join()
      return table.concat(back)
    end)
    assert.equal(#whole, #received)
    assert.equal(whole, received)
  end)

  it("delays UDP both ways (a DNS query)", function()
    local dns = require "runbook.dns"
    local offset = #support.slurp(relay.log)
    local answer, took = task.run(function()
      local started = task.now()
      local reply = assert(dns.query { name = "sip.contoso.com", type = "A", server = RELAY,
                                       port = DNS_PORT, timeout = 5 })
      return reply, task.now() - started
    end)
    assert.equal("192.0.2.10", answer.records[1].address)
    assert.is_true(took >= 2 * DELAY, "query " .. took)
    local events = log_since(offset)
    assert.is_true(contains(events, "udp ") and contains(events, " c>s ")
      and contains(events, " s>c "), table.concat(events, "\n"))
  end)

  it("resets the client when the target refuses", function()
    local offset = #support.slurp(relay.log)
    local _, message, code = task.run(function()
      local socket <close> = assert(net.open { host = RELAY, port = CLOSED })
      return socket:receive(1, { timeout = 5 })
    end)
    assert.equal("closed", code, message)
    assert.is_true(contains(log_since(offset), "refused"))
  end)
end)
