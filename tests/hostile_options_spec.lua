-- Every primitive with every option hostile (issue 12, finding 6): each option of each
-- options table, each positional argument and each field of a nested table (a DNS
-- record, a TSIG key, HTTP headers, argv) replaced in turn by a number (negative, and
-- large), a table, a 1 MiB string and nil, while the collector runs at every allocation. Each call must return, or
-- raise a Lua error with a message; never crash. tests/run.sh runs this under
-- AddressSanitizer too, where a string read after the collector freed it is a crash: a
-- number given for a string option used to be converted on the stack, popped, and read
-- later (runtime/options.h, dns_update.c, tls.c). #c
local task = require "runbook.task"
local dns = require "runbook.dns"
local net = require "runbook.net"
local fs = require "runbook.fs"
local xml = require "runbook.xml"
local lab = require "helpers.servers"
local support = require "support"

local HUGE = ("x"):rep(1 << 20)
local NIL = setmetatable({}, { __name = "nil" })   -- stands for nil in the tables below
local HOSTILE = {
  { "a negative number", -1.5 },
  { "a large number", 2 ^ 40 },
  { "a table", { "not", "an", "option" } },
  { "a huge string", HUGE },
  { "nil", NIL },
}
local CLOSED_PORT = 9            -- 127.0.0.1: nothing listens (discard), TCP and UDP

-- A copy of t, tables copied through (userdata and functions shared).
local function copy(t)
  if type(t) ~= "table" or getmetatable(t) then return t end
  local out = {}
  for k, v in pairs(t) do out[k] = copy(v) end
  return out
end

-- Every path to a value in t, tables included, sorted: { {1}, {1, "name"}, … }.
local function paths_of(t, prefix, out)
  out = out or {}
  for k, v in pairs(t) do
    if k ~= "n" then
      local path = { table.unpack(prefix or {}) }
      path[#path + 1] = k
      out[#out + 1] = path
      if type(v) == "table" and not getmetatable(v) then paths_of(v, path, out) end
    end
  end
  table.sort(out, function(a, b) return table.concat(a, ".") < table.concat(b, ".") end)
  return out
end

local function path_name(path)
  local parts = {}
  for i, k in ipairs(path) do parts[i] = type(k) == "number" and ("[" .. k .. "]") or k end
  return table.concat(parts, "."):gsub("%.%[", "[")
end

-- The arguments with the value at path replaced.
local function with_value(args, path, value)
  local out = copy(args)
  local t = out
  for i = 1, #path - 1 do t = t[path[i]] end
  if value == NIL then t[path[#path]] = nil else t[path[#path]] = value end
  return out
end

-- Calls case.call with args under collector pressure; the call may return anything or
-- raise, but only a Lua error with a message.
local function attempt(case, args, what)
  collectgarbage("step")
  local results = table.pack(pcall(case.call, table.unpack(args, 1, args.n)))
  collectgarbage("step")
  if not results[1] then
    assert(type(results[2]) == "string",
           ("%s: raised a %s, not an error message"):format(what, type(results[2])))
  end
  if case.cleanup then case.cleanup(table.unpack(results, 2, results.n)) end
end

-- The collector at every allocation: a string nothing references is freed at once.
local function with_collector_pressure(fn)
  collectgarbage("collect")
  collectgarbage("incremental", 1, 1000, 0)
  local ok, err = pcall(fn)
  collectgarbage("incremental", 200, 100, 13)   -- Lua 5.4's defaults
  collectgarbage("collect")
  assert(ok, err)
end

-- Runs every hostile variant of a case: {name=, call=, args={...}, avoid={[path]={kinds}}}.
local function run_case(case)
  case.args.n = case.args.n or #case.args
  with_collector_pressure(function()
    task.run(function()
      attempt(case, case.args, case.name .. " as given")
      for _, path in ipairs(paths_of(case.args)) do
        local name = path_name(path)
        for _, hostile in ipairs(HOSTILE) do
          local avoided = case.avoid and case.avoid[name]
          if not (avoided and avoided[hostile[1]]) then
            attempt(case, with_value(case.args, path, hostile[2]),
                    ("%s with %s as %s"):format(case.name, name, hostile[1]))
          end
        end
      end
    end)
  end)
end

-- Closes what a call returned when it is something to close (a socket, stream, session).
local function close_result(result)
  if type(result) ~= "userdata" then return end
  local ok, close = pcall(function() return result.close end)
  if ok and type(close) == "function" then pcall(close, result) end
end

describe("every primitive with hostile options #c", function()
  local web, sshd, dir

  setup(function()
    web = lab.start("hostile_http", "127.0.0.1")
    sshd = lab.start("sshd", "auto", "127.0.22.81")
    dir = support.tmpdir()
    support.write(dir .. "/resolv.conf", "nameserver 127.0.0.1\noptions attempts:1\n")
  end)

  teardown(function()
    lab.stop(web)
    lab.stop(sshd)
    if dir then os.execute("rm -rf " .. support.quote(dir)) end
  end)

  local function ssh_options()
    return { host = "127.0.22.81", port = tonumber(sshd.port), user = sshd.user,
             key_file = sshd.shell_key, known_hosts = sshd.known_hosts, timeout = 5,
             host_key_policy = "strict", agent = false, max_output = 100000 }
  end

  local function web_socket(port)
    return assert(net.open { host = "127.0.0.1", port = tonumber(port), timeout = 5 })
  end

  local function tls_stream()
    return assert(require("runbook.tls").wrap(web_socket(web.tls_echo),
      { servername = "localhost", ca_file = web.ca_file, timeout = 5 }))
  end

  it("dns.query, to a server and to the servers of a resolv.conf", function()
    run_case { name = "dns.query", call = dns.query,
      args = { { name = "hostile.example", type = "A", server = "127.0.0.1",
                 port = CLOSED_PORT, timeout = 0.2, tries = 1 } },
      -- without server the system's resolver would be asked: no traffic off loopback
      avoid = { ["[1].server"] = { ["nil"] = true } } }
    run_case { name = "dns.query", call = dns.query,
      args = { { name = "hostile.example", type = "TXT", resolv_conf = dir .. "/resolv.conf",
                 timeout = 0.2, tries = 1 } },
      avoid = { ["[1].resolv_conf"] = { ["nil"] = true } } }
  end)

  it("dns.update, every field of its key, prerequisites and records", function()
    run_case { name = "dns.update", call = dns.update, args = { {
      server = "127.0.0.1", port = CLOSED_PORT, zone = "contoso.com", timeout = 0.2, tries = 1,
      key = { name = "tsig-test.", algorithm = "hmac-sha256",
              secret = "G6IVv6cgc/7igWNgYzLkKrR9zz6YLEdEL8pABulJoNo=" },
      prerequisites = {
        { name = "a.contoso.com", type = "A", records = { { address = "192.0.2.1" } } },
        { name = "b.contoso.com", exists = false },
      },
      changes = {
        { op = "add", name = "a.contoso.com", type = "A", ttl = 60, address = "192.0.2.2" },
        { op = "add", name = "t.contoso.com", type = "TXT", text = "v=1", strings = { "v=1" } },
        { op = "add", name = "_x._tcp.contoso.com", type = "SRV", priority = 1, weight = 2,
          port = 3, target = "x.contoso.com" },
        { op = "add", name = "contoso.com", type = "SOA", mname = "ns.contoso.com",
          rname = "hostmaster.contoso.com", serial = 1, refresh = 2, retry = 3, expire = 4,
          minimum = 5 },
        { op = "delete_record", name = "c.contoso.com", type = "CNAME", target = "a.contoso.com" },
        { op = "delete_name", name = "d.contoso.com" },
      },
    } } }
  end)

  it("dns.parse and tsig.hmac", function()
    run_case { name = "dns.parse", call = dns.parse,
      args = { "\0\1\129\128\0\0\0\0\0\0\0\0" } }
    local tsig = require "runbook.tsig"
    run_case { name = "tsig.hmac", call = tsig.hmac, args = { "hmac-sha256", "key", "data" } }
  end)

  it("net.connect, net.open, net.explain and a socket's methods", function()
    local target = { host = "127.0.0.1", port = CLOSED_PORT, timeout = 1 }
    run_case { name = "net.connect", call = net.connect, args = { target } }
    run_case { name = "net.open", call = net.open, args = { target }, cleanup = close_result }
    run_case { name = "net.explain", call = net.explain, args = { { errno = 111 } } }
    run_case { name = "net.explain", call = net.explain,
      args = { { origin = 2, type = 3, code = 3, sender = "127.0.0.1" } } }
    local socket
    run_case { name = "socket:send", args = { "GET / HTTP/1.0\r\n\r\n", { timeout = 1 } },
      call = function(...)
        socket = web_socket(web.http)
        return socket:send(...)
      end,
      cleanup = function() socket:close() end }
    run_case { name = "socket:receive", args = { 16, { timeout = 0.2 } },
      call = function(...)
        socket = web_socket(web.http)
        assert(socket:send("GET / HTTP/1.0\r\n\r\n"))
        return socket:receive(...)
      end,
      cleanup = function() socket:close() end }
    run_case { name = "socket:starttls", cleanup = close_result,
      args = { { servername = "localhost", ca_file = web.ca_file, verify = true, timeout = 2 } },
      call = function(options) return web_socket(web.tls_echo):starttls(options) end }
  end)

  it("tls.wrap, tls.read_certificate and a TLS stream's methods", function()
    local tls = require "runbook.tls"
    run_case { name = "tls.wrap", cleanup = close_result,
      args = { { servername = "localhost", ca_file = web.ca_file, verify = true, timeout = 2 } },
      call = function(options) return tls.wrap(web_socket(web.tls_echo), options) end }
    run_case { name = "tls.read_certificate", call = tls.read_certificate,
      args = { support.slurp(web.ca_file) } }
    local stream
    run_case { name = "stream:send", args = { "hello", { timeout = 1 } },
      call = function(...)
        stream = tls_stream()
        return stream:send(...)
      end,
      cleanup = function() stream:close() end }
    run_case { name = "stream:receive", args = { 5, { timeout = 0.3 } },
      call = function(...)
        stream = tls_stream()
        assert(stream:send("hello"))
        return stream:receive(...)
      end,
      cleanup = function() stream:close() end }
  end)

  it("ssh.session, session:exec, session:tunnel and a tunnel's methods", function()
    local ssh = require "runbook.ssh"
    run_case { name = "ssh.session", call = ssh.session, args = { ssh_options() },
      cleanup = close_result }
    local session = task.run(function() return assert(ssh.session(ssh_options())) end)
    local port = tonumber(sshd.port)
    run_case { name = "session:exec", args = { "cat", { timeout = 5, stdin = "hello",
                                                         max_output = 100000 } },
      call = function(...) return session:exec(...) end }
    local tunnel
    run_case { name = "session:tunnel", args = { "127.0.22.81", port, { timeout = 2 } },
      call = function(...)
        tunnel = session:tunnel(...)
        return tunnel
      end,
      cleanup = function() if tunnel then tunnel:close() end end }
    run_case { name = "tunnel:send", args = { "SSH-2.0-hostile\r\n", { timeout = 1 } },
      call = function(...)
        tunnel = assert(session:tunnel("127.0.22.81", port, { timeout = 2 }))
        return tunnel:send(...)
      end,
      cleanup = function() tunnel:close() end }
    run_case { name = "tunnel:receive", args = { 64, { timeout = 1 } },
      call = function(...)
        tunnel = assert(session:tunnel("127.0.22.81", port, { timeout = 2 }))
        return tunnel:receive(...)
      end,
      cleanup = function() tunnel:close() end }
    session:close()
  end)

  it("http.request, http.connection and conn:request", function()
    local http = require "runbook.http"
    local request = { url = ("http://127.0.0.1:%s/"):format(web.http), method = "POST",
      headers = { ["X-Hostile"] = "yes" }, body = "body", auth = "basic", user = "user",
      password = "password", tls_verify = true, ca_file = web.ca_file, timeout = 5,
      follow = false, max_body = 100000, max_headers = 100000 }
    run_case { name = "http.request", call = http.request, args = { request } }
    run_case { name = "http.connection", call = http.connection, args = { { read_permit = NIL } },
      cleanup = function(conn) if type(conn) == "userdata" then conn:close() end end }
    local conn = http.connection()
    run_case { name = "conn:request", args = { request },
      call = function(...) return conn:request(...) end }
    conn:close()
  end)

  it("process.run", function()
    local process = require "runbook.process"
    run_case { name = "process.run", call = process.run,
      args = { { "cat" }, { timeout = 5, stdin = "hello", read_permit = NIL } } }
  end)

  it("permit.read", function()
    local permit = require "runbook.permit"
    run_case { name = "permit.read", call = permit.read,
      args = { "powershell", "Get-Date", "" } }
  end)

  it("xml.parser and a parser's methods", function()
    run_case { name = "xml.parser", call = xml.parser,
      args = { { max_depth = 8, max_buffer = 1000, max_text = 1000 } } }
    run_case { name = "parser:feed", args = { "<a xmlns:p='urn:p'><p:b k='v'>text</p:b>" },
      call = function(...) return xml.parser():feed(...) end }
  end)

  it("the fs functions (paths in a scratch directory; never a number as a path to write)",
     function()
    local writes = { ["[1]"] = { ["a negative number"] = true, ["a large number"] = true } }
    run_case { name = "fs.list", call = fs.list, args = { dir } }
    run_case { name = "fs.stat", call = fs.stat, args = { dir .. "/resolv.conf" } }
    run_case { name = "fs.realpath", call = fs.realpath, args = { dir } }
    run_case { name = "fs.isatty", call = fs.isatty, args = { 0 } }
    run_case { name = "fs.append", call = fs.append, args = { dir .. "/appended", "data", 384 },
      avoid = writes }
    run_case { name = "fs.mkdir", call = fs.mkdir, args = { dir .. "/made" }, avoid = writes }
    run_case { name = "fs.lock", call = fs.lock, args = { dir .. "/lock" }, avoid = writes,
      cleanup = function(lock) if type(lock) == "userdata" then lock:release() end end }
  end)

  it("task.sleep, task.spawn and a handle's join", function()
    run_case { name = "task.sleep", call = task.sleep, args = { 0.001 },
      avoid = { ["[1]"] = { ["a large number"] = true } } }      -- a sleep of 34,000 years
    run_case { name = "task.spawn", call = task.spawn, args = { function() end } }
    run_case { name = "handle:join", args = { 1 },
      call = function(...) return task.spawn(function() end):join(...) end }
  end)
end)

-- A number where a string is expected is refused with the option's name: converting it
-- would put a string on the stack that nothing keeps once it is popped.
describe("a number for a string option #c", function()
  local function refusal(fn)
    local ok, err = pcall(task.run, fn)
    assert.is_false(ok)
    return err
  end

  local cases = {
    { "dns.query name", function() return dns.query { name = 42, server = "127.0.0.1" } end,
      "option 'name' must be a string, got number" },
    { "dns.query server", function() return dns.query { name = "x.example", server = 127 } end,
      "option 'server' must be a string, got number" },
    { "dns.update zone", function()
        return dns.update { server = "127.0.0.1", zone = 12345 } end,
      "option 'zone' must be a string, got number" },
    { "dns.update key name", function()
        return dns.update { server = "127.0.0.1", zone = "contoso.com",
                            key = { name = 98765, secret = "c2VjcmV0" } } end,
      "needs the field 'name' %(a string%), got number" },
    { "dns.update key algorithm", function()
        return dns.update { server = "127.0.0.1", zone = "contoso.com",
                            key = { name = "k.", algorithm = 256, secret = "c2VjcmV0" } } end,
      "the algorithm of key 'k%.' must be a string, got number" },
    { "dns.update record name", function()
        return dns.update { server = "127.0.0.1", zone = "contoso.com",
                            changes = { { op = "delete_name", name = 7 } } } end,
      "needs the field 'name' %(a string%), got number" },
    { "http.request url", function()
        return require("runbook.http").request { url = 8080 } end,
      "option 'url' must be a string, got number" },
    { "tls.wrap servername", function()
        return require("runbook.tls").wrap({ send = print, receive = print },
                                           { servername = 1 }) end,
      "servername must be a string, got number" },
    { "net.connect host", function() return net.connect { host = 127001, port = 9 } end,
      "host must be a string" },
    { "ssh.session user", function()
        return require("runbook.ssh").session { host = "127.0.0.1", user = 1000 } end,
      "option 'user' must be a string, got number" },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      assert.matches(case[3], refusal(case[2]))
    end)
  end
end)
