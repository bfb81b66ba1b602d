-- Limits on what a peer can make runbook hold (issue 12, finding 8): HTTP response bodies
-- and headers (runtime/http.c) against peers that never stop sending
-- (tests/lab/hostile_http.sh), SSH command output and tunnel reads (runtime/ssh.c) against
-- a real sshd (tests/lab/sshd.sh). Past a limit the primitive fails with code "limit" and a
-- message naming the option that raises it. #c #http #ssh
local task = require "runbook.task"
local http = require "runbook.http"
local ssh = require "runbook.ssh"
local lab = require "helpers.servers"

local MiB = 1024 * 1024

describe("HTTP response limits #http", function()
  local peer, base

  setup(function()
    peer = lab.start("hostile_http", "127.0.0.1")
    base = ("http://127.0.0.1:%s"):format(peer.http)
  end)

  teardown(function() lab.stop(peer) end)

  local function get(path, extra)
    local args = { url = base .. path, timeout = 20 }
    for k, v in pairs(extra or {}) do args[k] = v end
    return task.run(function() return http.request(args) end)
  end

  it("stops a body that never ends at 16 MiB, naming max_body", function()
    local response, message, code = get("/endless-body")
    assert.is_nil(response)
    assert.equal("limit", code)
    assert.matches("body passed the limit of 16 MiB %(max_body%)", message)
    assert.matches("raise the request's max_body option", message)
  end)

  it("refuses at once a body whose Content-Length announces more than max_body", function()
    local started = task.run(task.now)
    local response, message, code = get("/announced-huge")
    assert.is_nil(response)
    assert.equal("limit", code)
    assert.matches("max_body", message)
    assert.is_true(task.run(task.now) - started < 5)
  end)

  it("stops headers that never end at 256 KiB, naming max_headers", function()
    local response, message, code = get("/endless-headers")
    assert.is_nil(response)
    assert.equal("limit", code)
    assert.matches("headers passed the limit of 256 KiB %(max_headers%)", message)
  end)

  it("takes a body of exactly max_body bytes, and refuses one byte more", function()
    local response = assert(get("/body/" .. 16 * MiB))
    assert.equal(16 * MiB, #response.body)
    local small = assert(get("/body/1000", { max_body = 1000 }))
    assert.equal(1000, #small.body)
    local _, message, code = get("/body/1001", { max_body = 1000 })
    assert.equal("limit", code)
    assert.matches("limit of 1000 bytes %(max_body%)", message)
  end)

  it("takes a larger body or larger headers when the request raises the limit", function()
    local response = assert(get("/body/" .. 17 * MiB, { max_body = 32 * MiB }))
    assert.equal(17 * MiB, #response.body)
    local _, _, code = get("/headers/280")                  -- about 280 KB of headers
    assert.equal("limit", code)
    local raised = assert(get("/headers/280", { max_headers = 300 * 1024 }))
    assert.equal("ok", raised.body)
    assert.is_truthy(raised.headers["x-filler-000279"])
  end)

  it("applies the limits on a connection too", function()
    local response, message, code = task.run(function()
      local conn = http.connection()
      local result = { conn:request { url = base .. "/body/2000", max_body = 1999 } }
      conn:close()
      return table.unpack(result)
    end)
    assert.is_nil(response)
    assert.equal("limit", code)
    assert.matches("max_body", message)
  end)

  it("refuses a limit that is not a whole number of bytes", function()
    for _, bad in ipairs { 0, -1, 1.5, "many", {} } do
      assert.has_error(function() get("/", { max_body = bad }) end)
      assert.has_error(function() get("/", { max_headers = bad }) end)
    end
  end)

  it("refuses max_headers above libcurl's own 300 KiB, saying so", function()
    local ok, message = pcall(get, "/", { max_headers = 1024 * 1024 })
    assert.is_false(ok)
    assert.matches("max_headers: at most 307200 %(300 KiB%), libcurl's own limit", message)
  end)
end)

describe("SSH output and tunnel limits #ssh", function()
  local server

  setup(function() server = lab.start("sshd", "auto", "127.0.22.80") end)
  teardown(function() lab.stop(server) end)

  local function session(extra)
    local o = { host = "127.0.22.80", port = tonumber(server.port), user = server.user,
                key_file = server.shell_key, known_hosts = server.known_hosts, timeout = 10 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return assert(ssh.session(o))
  end

  it("stops a command's stdout past 16 MiB, naming max_output, and drops the connection",
     function()
    local r, message, code, later = task.run(function()
      local s = session()
      local result = { s:exec("head -c 17M /dev/zero; echo done >&2", { timeout = 60 }) }
      result[4] = s:exec("echo later")       -- the session connects again
      return table.unpack(result, 1, 4)
    end)
    assert.is_nil(r)
    assert.equal("limit", code)
    assert.matches("the stdout of `head %-c 17M /dev/zero; echo done >&2` on 127%.0%.22%.80:%d+ "
                   .. "passed the limit of 16 MiB %(max_output%)", message)
    assert.matches("session:exec%(command, {max_output = bytes}%)", message)
    assert.equal("later\n", later and later.stdout)
  end)

  it("stops stderr past the exec's own max_output", function()
    local r, message, code = task.run(function()
      return session():exec("head -c 5000 /dev/zero >&2", { max_output = 1000 })
    end)
    assert.is_nil(r)
    assert.equal("limit", code)
    assert.matches("the stderr of .* passed the limit of 1000 bytes %(max_output%)", message)
  end)

  it("counts the output a command writes while it still reads its stdin", function()
    local r, _, code = task.run(function()
      return session():exec("cat", { stdin = ("x"):rep(300000), max_output = 100000 })
    end)
    assert.is_nil(r)
    assert.equal("limit", code)
  end)

  it("takes output up to the limit, and more when the exec or the session raises it",
     function()
    local exact, raised, by_session = task.run(function()
      local s = session()
      return assert(s:exec("head -c 1000 /dev/zero", { max_output = 1000 })),
             assert(s:exec("head -c 17M /dev/zero", { max_output = 32 * MiB, timeout = 60 })),
             assert(session { max_output = 20 * MiB }:exec("head -c 17M /dev/zero",
                                                            { timeout = 60 }))
    end)
    assert.equal(1000, #exact.stdout)
    assert.equal(17 * MiB, #raised.stdout)
    assert.equal(17 * MiB, #by_session.stdout)
  end)

  it("refuses a max_output that is not a whole number of bytes", function()
    task.run(function()
      local s = session()
      for _, bad in ipairs { 0, -5, 2.5, "lots", {} } do
        assert.has_error(function() s:exec("true", { max_output = bad }) end)
        assert.has_error(function() session { max_output = bad } end)
      end
    end)
  end)

  it("answers tunnel:receive with a huge max at once, at most 1 MiB", function()
    local banner = task.run(function()
      local s = session()
      local tunnel = assert(s:tunnel("127.0.22.80", tonumber(server.port), { timeout = 5 }))
      local data = assert(tunnel:receive(math.maxinteger, { timeout = 5 }))
      tunnel:close()
      return data
    end)
    assert.matches("^SSH%-2%.0%-", banner)
    assert.is_true(#banner <= MiB)
  end)
end)
