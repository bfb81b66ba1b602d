-- runbook.ssh against a real OpenSSH sshd on 127.0.22.1-24 (tests/lab/sshd.sh).
local lab = require "helpers.servers"
local support = require "support"
local task = require "runbook.task"
local ssh = require "runbook.ssh"

local HOSTS = 50   -- 127.0.22.1-50, four sshd processes

describe("runbook.ssh", function()
  local server, addresses

  setup(function()
    addresses = {}
    for i = 1, HOSTS do addresses[i] = "127.0.22." .. i end
    server = lab.start("sshd", "auto", table.unpack(addresses))
  end)

  teardown(function() lab.stop(server) end)

  local function options(extra)
    local o = { host = "127.0.22.1", port = tonumber(server.port), user = server.user,
                key_file = server.shell_key, known_hosts = server.known_hosts, timeout = 10 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  local function fingerprint_of_server()
    local r = support.sh("ssh-keygen -l -E sha256 -f " .. support.quote(server.host_key))
    return r.out:match("(SHA256:%S+)")
  end

  it("runs a command and returns stdout, stderr and the exit status", function()
    local r = task.run(function()
      local s = assert(ssh.session(options()))
      return assert(s:exec("printf 'out\\n'; printf 'err\\n' >&2; exit 3"))
    end)
    assert.same({ stdout = "out\n", stderr = "err\n", status = 3 }, r)
  end)

  it("sends stdin and reads a large output in full", function()
    local input = ("0123456789abcdef\n"):rep(250000)  -- 4.25 MB: more than two windows
    local r = task.run(function()
      local s = assert(ssh.session(options()))
      return assert(s:exec("cat", { stdin = input }))
    end)
    assert.equal(#input, #r.stdout)
    assert.equal(input, r.stdout)
    assert.equal(0, r.status)
  end)

  it("reuses one connection for many commands, one channel each", function()
    local ports = task.run(function()
      local s = assert(ssh.session(options()))
      local seen = {}
      for i = 1, 5 do
        local r = assert(s:exec("echo $SSH_CONNECTION"))
        seen[i] = r.stdout:match("^%S+ (%d+)")
      end
      return seen
    end)
    assert.equal(5, #ports)
    for i = 2, 5 do assert.equal(ports[1], ports[i]) end
  end)

  it("re-opens a connection that died between commands, once", function()
    local first, second = task.run(function()
      local s = assert(ssh.session(options { host = "127.0.22.2" }))
      local before = assert(s:exec("echo $SSH_CONNECTION")).stdout
      -- kill the per-connection sshd processes (children of the sshd this spec started)
      support.sh("pkill -P " .. server.pid)
      local after, err = s:exec("echo $SSH_CONNECTION")
      assert(after, err)
      return before, after.stdout
    end)
    assert.matches("^%S+ %d+ 127%.0%.22%.2 " .. server.port, first)
    assert.matches("^%S+ %d+ 127%.0%.22%.2 " .. server.port, second)
    assert.are_not.equal(first, second)
  end)

  it("refuses an unknown host key and shows its SHA256 fingerprint and what to do", function()
    local empty = support.write(server.dir .. "/empty_known_hosts", "")
    local s, err, code = task.run(function()
      return ssh.session(options { known_hosts = empty })
    end)
    assert.is_nil(s)
    assert.equal("hostkey", code)
    assert.truthy(err:find(fingerprint_of_server(), 1, true), err)
    assert.truthy(err:find("ssh-keyscan -p " .. server.port .. " 127.0.22.1", 1, true), err)
    assert.equal("", support.slurp(empty))
  end)

  it("refuses a changed host key", function()
    local other = server.dir .. "/other_key"
    support.sh("ssh-keygen -q -t ed25519 -N '' -f " .. support.quote(other))
    local key = support.slurp(other .. ".pub"):match("^(%S+ %S+)")
    local line = "[127.0.22.1]:" .. server.port .. " " .. key
    local known = support.write(server.dir .. "/changed_known_hosts", line .. "\n")
    local s, err, code = task.run(function()
      return ssh.session(options { known_hosts = known })
    end)
    assert.is_nil(s)
    assert.equal("hostkey", code)
    assert.matches("CHANGED", err)
    assert.truthy(err:find(fingerprint_of_server(), 1, true), err)
  end)

  it("accept-new appends an unknown key, then strict accepts it", function()
    local known = server.dir .. "/new_known_hosts"
    local status = task.run(function()
      local s = assert(ssh.session(options { known_hosts = known, host = "127.0.22.3",
                                             host_key_policy = "accept-new" }))
      s:close()
      local again = assert(ssh.session(options { known_hosts = known, host = "127.0.22.3" }))
      return assert(again:exec("true")).status
    end)
    assert.equal(0, status)
    local text = support.slurp(known)
    local key = support.slurp(server.host_key):match("^(%S+ %S+)")
    assert.equal("[127.0.22.3]:" .. server.port .. " " .. key .. "\n", text)
    -- OpenSSH itself agrees with the line we wrote
    local r = support.sh(("ssh-keygen -F '[127.0.22.3]:%s' -f %s"):format(server.port,
                                                                         support.quote(known)))
    assert.equal(0, r.code)
  end)

  it("reports a key the server does not accept as auth", function()
    local stranger = server.dir .. "/stranger_key"
    support.sh("ssh-keygen -q -t ed25519 -N '' -f " .. support.quote(stranger))
    local s, err, code = task.run(function()
      return ssh.session(options { key_file = stranger })
    end)
    assert.is_nil(s)
    assert.equal("auth", code)
    assert.matches("as " .. server.user .. " on 127%.0%.22%.1:" .. server.port, err)
  end)

  it("opens a passphrase-protected key with its passphrase, and refuses a wrong one", function()
    local good, bad = task.run(function()
      local s = ssh.session(options { key_file = server.locked_key,
                                      passphrase = "lab passphrase" })
      local _, err, code = ssh.session(options { key_file = server.locked_key,
                                                 passphrase = "wrong" })
      return s ~= nil, { err = err, code = code }
    end)
    assert.is_true(good)
    assert.equal("auth", bad.code)
    assert.matches("passphrase", bad.err)
  end)

  it("authenticates with ssh-agent", function()
    local socket = server.dir .. "/agent.sock"
    support.sh(("ssh-agent -a %s >%s/agent.out"):format(support.quote(socket), server.dir))
    local agent_pid = support.slurp(server.dir .. "/agent.out"):match("SSH_AGENT_PID=(%d+)")
    local added = support.sh(("SSH_AUTH_SOCK=%s ssh-add %s"):format(support.quote(socket),
                                                                    server.shell_key))
    local ok, result = pcall(task.run, function()
      local s = assert(ssh.session(options { key_file = false, agent = true,
                                             agent_socket = socket }))
      return assert(s:exec("echo agent")).stdout
    end)
    support.sh("kill " .. agent_pid)
    assert.equal(0, added.code)
    assert.is_true(ok, result)
    assert.equal("agent\n", result)
  end)

  it("reports a closed port as refused", function()
    local s, err, code = task.run(function()
      return ssh.session(options { port = 2299 })
    end)
    assert.is_nil(s)
    assert.equal("refused", code)
    assert.matches("127%.0%.22%.1:2299", err)
  end)

  it("gives up on a command that never ends with timeout, and the session still works",
     function()
    local failed, after = task.run(function()
      local s = assert(ssh.session(options { host = "127.0.22.4" }))
      local r, err, code = s:exec("exec sleep 5", { timeout = 0.3 })
      return { r = r, err = err, code = code }, assert(s:exec("echo later")).stdout
    end)
    assert.is_nil(failed.r)
    assert.equal("timeout", failed.code)
    assert.matches("did not finish within 0%.3 s: exec sleep 5", failed.err)
    assert.equal("later\n", after)
  end)

  it("reports a server that never completes the handshake as timeout", function()
    -- a TCP listener that accepts and never answers (nc, started and stopped here)
    local pid = support.sh(("nc -l 127.0.22.55 %s </dev/null >%s/nc.out 2>&1 & echo $!")
                           :format(server.port, server.dir)).out:match("%d+")
    local s, err, code
    for _ = 1, 50 do   -- until nc listens (a refused connect means not yet)
      s, err, code = task.run(function() return ssh.session(options { host = "127.0.22.55",
                                                                     timeout = 0.3 }) end)
      if code ~= "refused" then break end
      task.run(function() task.sleep(0.05) end)
    end
    support.sh("kill " .. pid)
    assert.is_nil(s)
    assert.equal("timeout", code)
    assert.matches("SSH connection to 127%.0%.22%.55:" .. server.port
                   .. " not established within 0%.3 s", err)
  end)

  it("drops the connection of a cancelled command and reconnects for the next", function()
    local finished, reason, after = task.run(function()
      local s = assert(ssh.session(options { host = "127.0.22.7" }))
      local done, why = task.timeout(0.3, function() return s:exec("exec sleep 5") end)
      return done, why, assert(s:exec("echo after cancel")).stdout
    end)
    assert.is_false(finished)
    assert.equal("timeout", reason)
    assert.equal("after cancel\n", after)
  end)

  it("runs commands on " .. HOSTS .. " hosts at once", function()
    local results, failures = task.parallel(addresses, function(address)
      local s = assert(ssh.session(options { host = address }))
      local r = assert(s:exec("echo $SSH_CONNECTION"))
      s:close()
      return r.stdout:match("^%S+ %d+ (%S+)")
    end)
    assert.same({}, failures)
    assert.same(addresses, results)
  end)

  it("opens a tunnel from the server to another host's port (a remote vantage point)",
     function()
    local banner, refused, after = task.run(function()
      local s = assert(ssh.session(options { host = "127.0.22.5" }))
      local tunnel = assert(s:tunnel("127.0.22.6", tonumber(server.port), { timeout = 5 }))
      local first = assert(tunnel:receive(256, { timeout = 5 }))
      assert(tunnel:send("SSH-2.0-runbook-test\r\n"))
      tunnel:close()
      local _, err, code = s:tunnel("127.0.22.6", 2399, { timeout = 5 })
      local connected = s:is_connected()   -- an answer about the target: no new login
      return first, { err = err, code = code, connected = connected },
        assert(s:exec("echo still here")).stdout
    end)
    assert.matches("^SSH%-2%.0%-OpenSSH", banner)
    assert.equal("refused", refused.code)
    assert.is_true(refused.connected)
    assert.matches("could not connect to 127%.0%.22%.6:2399", refused.err)
    assert.equal("still here\n", after)
  end)

  it("raises on misuse", function()
    assert.has_error(function() ssh.session { port = 2222 } end)
    assert.has_error(function()
      task.run(function() ssh.session(options { host_key_policy = "yes" }) end)
    end)
    task.run(function()
      local s = assert(ssh.session(options()))
      s:close()
      s:close()   -- closing twice is fine
      assert.has_error(function() s:exec("true") end)
    end)
  end)
end)
