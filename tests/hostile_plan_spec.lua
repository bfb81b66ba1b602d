-- The hostile-input corpus (issue 12): what an inventory or a runbook written by mistake
-- could make runbook do while it must change nothing. Every case runs under `runbook plan`
-- and inside a step's check of `runbook run`, and is asserted to change nothing: no file
-- made, no request reaching the servers' logs. Against real servers on loopback: an HTTPS
-- server that logs every request line (tests/lab/https_echo.py), the WinRM emulator
-- (tests/lab/winrm.sh), sshd (tests/lab/sshd.sh).
local cjson = require "cjson"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"
support.unwind_fully()   -- WinRM/NTLM loads gss-ntlmssp, whose leak tests/lsan.supp names
local quote, slurp, write = support.quote, support.slurp, support.write

local ECHO, WINRM_ADDRESS = "127.0.53.78:8443", "127.0.23.78"

-- An inventory of the failover runbook whose every server runs through the local transport
-- with the given powershell; DNS the manual provider, which plan only reads.
local function failover_inventory(powershell)
  return ([[return {
  domain = "contoso.com", management = "fe1.contoso.com",
  server_defaults = { transport = "local", powershell = %s },
  pools = { ["edgepool1.contoso.com"] = { public_ip = "198.51.100.10", srv_priority = 10 },
            ["edgepool2.contoso.com"] = { public_ip = "203.0.113.10", srv_priority = 20 } },
  dns = { provider = "manual", zone = "contoso.com", xmpp_host = "xmpp.contoso.com", ttl = 300 },
  failover = { from_pool = "edgepool1.contoso.com", to_pool = "edgepool2.contoso.com" },
}]]):format(powershell)
end

describe("hostile inventories", function()
  local scratch, evil, mark

  setup(function()
    scratch = support.tmpdir()
    mark = scratch .. "/PWNED"
    -- a program that would leave its mark and answer like PowerShell with nothing
    evil = write(scratch .. "/evil", "#!/bin/sh\nid > " .. quote(mark) .. "\necho '[]'\n")
    os.execute("chmod 755 " .. quote(evil))
  end)
  teardown(function() os.execute("rm -rf " .. quote(scratch)) end)
  after_each(function() os.remove(mark) end)

  -- (name, the inventory's powershell as Lua source, what the refusal names)
  local CASES = {
    { "a shell with a command", ("{ 'sh', '-c', 'id > %s; echo []' }"):format("MARK"),
      'powershell = { "sh", "%-c", "id > .-PWNED; echo %[%]" } is not a PowerShell runbook starts' },
    { "another program as a string", "'EVIL'", "server_defaults%.powershell: expected a list" },
    { "another program in a list", "{ 'EVIL' }", 'powershell = { ".-/evil" } is not a PowerShell' },
    { "a PowerShell name with arguments", "{ 'pwsh', '-File', 'EVIL' }",
      'powershell = { "pwsh", "%-File", ".-/evil" } is not a PowerShell runbook starts' },
    { "the listed emulator with arguments", "{ 'EMULATOR', '-Command', 'EVIL' }",
      "is not a PowerShell runbook starts: name one of powershell, pwsh, " },
    { "a relative path to a listed program", "{ 'tests/lab/lync-emulator' }",
      'powershell = { "tests/lab/lync%-emulator" } is not a PowerShell runbook starts' },
  }

  for _, case in ipairs(CASES) do
    local name, powershell, refusal = case[1], case[2], case[3]
    for _, command in ipairs { "plan", "run --yes" } do
      it(("runs no program of its own: %s (%s)"):format(name, command), function()
        local source = powershell:gsub("MARK", mark):gsub("EVIL", evil)
                                 :gsub("EMULATOR", support.emulator)
        write(scratch .. "/inventory.lua", failover_inventory(source))
        local r = support.sh(("cd %s && RUNBOOK_STATE_DIR=%s %s %s xmpp-failover -i %s")
          :format(quote(support.root), quote(scratch .. "/state"), quote(support.bin), command,
                  quote(scratch .. "/inventory.lua")))
        assert.is_nil(io.open(mark), "the inventory's program ran:\n" .. r.out .. r.err)
        assert.are_not.equal(0, r.code)
        assert.matches(refusal, r.out .. r.err)
      end)
    end
  end
end)

-- A runbook written by mistake: its first step's check tries what must refuse, its second
-- the reads that must still work, each printing "TRIED <name>\t<ok|refused>\t<message>".
-- C is the config. The WinRM envelopes replayed come from a real read (recorded from
-- winrm.run over Basic), so that each case differs from the permitted exchange in one way.
local BOOK = [=[
local cjson = require "cjson"
local http = require "runbook.http"
local permit = require "runbook.permit"
require "powershell.reads"   -- registers the "powershell" kind of read
local powershell = require "powershell"
local winrm = require "winrm"
local C = cjson.decode(%q)

local function invocation(script) return powershell.invocation(powershell.wrap(script)) end
local get_line = invocation("Get-CsSite")
local set_line = invocation("Set-CsSite -Identity 'Site2' -Description 'moved'")
local long_line, long_stdin = invocation("Get-CsSite -Identity '" .. ("x"):rep(9000) .. "'")
local function read_permit(line, stdin) return assert(permit.read("powershell", line, stdin)) end
local basic = { address = C.winrm.address, port = C.winrm.port, auth = "basic",
                user = C.winrm.user, password = C.winrm.password, ca_file = C.winrm.ca_file }

-- The requests winrm.run makes for get_line, recorded on their way to the connection.
local function recorded_read()
  local connection, requests = http.connection, {}
  http.connection = function(options)
    local conn = connection(options)
    return setmetatable({ request = function(_, request)
      requests[#requests + 1] = request
      return conn:request(request)
    end }, { __close = function() conn:close() end })
  end
  local ok, result, err = pcall(winrm.run, basic, get_line, { read_permit = read_permit(get_line) })
  http.connection = connection
  assert(ok and result, tostring(result) .. " " .. tostring(err))
  return requests
end
local READ
local function step(action)
  READ = READ or recorded_read()
  for _, request in ipairs(READ) do
    if request.body:find("<a:Action s:mustUnderstand=\"true\">[^<]*/" .. action .. "<") then
      return request
    end
  end
end

-- Sends the recorded steps, then `last` (a step name or a request table), on one
-- connection opened with the read's permit; raises the refusal of the one refused.
local function replay(steps, last)
  local conn <close> = http.connection { read_permit = read_permit(get_line) }
  for _, name in ipairs(steps) do assert(conn:request(step(name))) end
  local request = type(last) == "string" and step(last) or last
  local response, err = conn:request(request)
  return response and response.status, err
end
local NONE = {}
local function with(request, changes)
  local copy = {}
  for k, v in pairs(request) do copy[k] = v end
  for k, v in pairs(changes) do if v == NONE then copy[k] = nil else copy[k] = v end end
  return copy
end
local echo = function(path) return { url = C.echo .. path, ca_file = C.ca } end

local attempts = {
  { "GET with a body", function()
    return http.request(with(echo "/get-with-body", { body = "x" })) end },
  { "OPTIONS with a body", function()
    return http.request(with(echo "/options-with-body", { method = "OPTIONS", body = "x" })) end },
  { "POST following redirects", function()
    return http.request(with(echo "/post-follow", { method = "POST", body = "x", follow = true })) end },
  { "a header carrying another request", function()
    return http.request(with(echo "/smuggle",
      { headers = { ["X-A"] = "a\r\n\r\nDELETE /smuggled HTTP/1.1\r\nHost: x" } })) end },
  { "DELETE on a permitted connection", function()
    return replay({}, with(step "Create", { method = "DELETE" })) end },
  { "PUT on a permitted connection", function()
    return replay({}, with(step "Create", { method = "PUT", url = C.echo .. "/put", ca_file = C.ca }))
  end },
  { "GET on a permitted connection", function()
    return replay({}, with(step "Create", { method = "GET", body = NONE })) end },
  { "another URL on a permitted connection", function()
    local conn <close> = http.connection { read_permit = read_permit(get_line) }
    assert(conn:request(with(step "Create", { body = "" })))
    return conn:request(with(echo "/other", { method = "POST", body = "" }))
  end },
  { "a body that is no envelope", function()
    return replay({}, with(step "Create", { body = "<x/>" })) end },
  { "a comment in the envelope", function()
    local create = step "Create"
    return replay({}, with(create, { body = create.body:gsub("<s:Body>", "<s:Body><!-- -->") }))
  end },
  { "another resource", function()
    local create = step "Create"
    return replay({}, with(create, { body = create.body:gsub("shell/cmd<",
      "wmi/root/cimv2/Win32_Process<") }))
  end },
  { "a header winrm does not send", function()
    return replay({}, with(step "Create", { headers = { ["Content-Type"] = "application/soap+xml",
                                                          ["Transfer-Encoding"] = "chunked" } }))
  end },
  { "the command before a shell", function() return replay({}, "Command") end },
  { "a second command", function() return replay({ "Create", "Command", "Receive" }, "Command") end },
  { "the same command envelope again", function()
    return replay({ "Create", "Command" }, "Command") end },
  { "a second shell", function() return replay({ "Create", "Command" }, "Create") end },
  { "after Delete", function()
    return replay({ "Create", "Command", "Receive", "Signal", "Delete" }, "Receive") end },
  { "another command over WinRM", function()
    return winrm.run(basic, set_line, { read_permit = read_permit(get_line) }) end },
  { "other stdin over WinRM", function()
    return winrm.run(basic, long_line, { stdin = long_stdin:gsub("A", "B", 1),
                                         read_permit = read_permit(long_line, long_stdin) })
  end },
  { "stdin the command has not over WinRM", function()
    return winrm.run(basic, get_line, { stdin = "x", read_permit = read_permit(get_line) }) end },
  { "a chunk named like the journal", function()
    return load(("local f = io.open(%%q, 'w') return f"):format(C.dir .. "/made-by-forged-journal"),
                "@" .. C.root .. "/modules/runbook/journal.lua")()
  end },
  { "a chunk named like the secrets prompt", function()
    return load(("local ok = os.execute(%%q) return ok")
                :format("touch " .. C.dir .. "/made-by-forged-secrets"),
                "@" .. C.root .. "/modules/runbook/secrets.lua")()
  end },
  { "a file named like the journal earlier in package.path", function()
    local path, journal = package.path, package.loaded["runbook.journal"]
    package.path = C.dir .. "/shadow/modules/?.lua;" .. path
    package.loaded["runbook.journal"] = nil
    local ok, err = pcall(require, "runbook.journal")
    package.path, package.loaded["runbook.journal"] = path, journal
    if not ok then error(err, 0) end
    return io.open(C.dir .. "/made-by-shadow-journal") == nil
  end },
  { "runbook.fs.lock", function()
    return require("runbook.fs").lock(C.dir .. "/made-by-lock")
  end },
}

local reads = {
  { "GET", function() return assert(http.request(echo "/look")).status == 200 end },
  { "a read over WinRM", function()
    return assert(winrm.run(basic, get_line, { read_permit = read_permit(get_line) })).status == 0
  end },
  { "a read with stdin over WinRM", function()
    return assert(winrm.run(basic, long_line, { stdin = long_stdin,
                                                read_permit = read_permit(long_line, long_stdin) }))
  end },
  { "a read over WinRM and NTLM", function()
    local ntlm = with(basic, { auth = "ntlm" })
    return assert(winrm.run(ntlm, get_line, { read_permit = read_permit(get_line) })).status == 0
  end },
}

local function try_all(list)
  for _, attempt in ipairs(list) do
    local ok, result, err = pcall(attempt[2])
    local outcome = ok and (result and "ok" or "false") or "refused"
    print(("TRIED %%s\t%%s\t%%s"):format(attempt[1], outcome,
                                        ok and tostring(err or "") or tostring(result)))
  end
  return true
end

return require("runbook").define {
  id = "by-mistake", title = { en = "By mistake" },
  steps = {
    { id = "attempts", title = { en = "Every change refuses" },
      check = function() return try_all(attempts) end },
    { id = "reads", title = { en = "Every read runs" },
      check = function() return try_all(reads) end },
  },
}
]=]

-- (case, what its refusal says)
local REFUSED = {
  { "GET with a body", "a GET request carries no body" },
  { "OPTIONS with a body", "an? OPTIONS request carries no body" },
  { "POST following redirects", "a request with a body does not follow redirects" },
  { "a header carrying another request", "the value of header X%-A holds a CR, LF or NUL" },
  { "DELETE on a permitted connection", "refusing to DELETE https://.-: it is no POST" },
  { "PUT on a permitted connection", "refusing to PUT https://.-/put .-: it is no POST" },
  { "GET on a permitted connection", "refusing to GET https://.-: it is no POST" },
  { "another URL on a permitted connection", "refusing to POST https://.-/other .-: it goes to "
    .. "another URL" },
  { "a body that is no envelope", "its body is not a WS%-Management shell envelope" },
  { "a comment in the envelope", "is not the shape runbook's winrm module gives this action" },
  { "another resource", "its body is not a WS%-Management shell envelope" },
  { "a header winrm does not send", "it sends a header winrm does not send" },
  { "the command before a shell", "no shell was created yet" },
  { "a second command", "a read permit covers one command" },
  { "the same command envelope again", "a read permit covers one command" },
  { "a second shell", "a read permit covers one shell" },
  { "after Delete", "the permitted shell was already deleted" },
  { "another command over WinRM", "its command line is not the permitted command" },
  { "other stdin over WinRM", "the stdin it sends is not the permitted stdin" },
  { "stdin the command has not over WinRM", "the permitted command has no stdin" },
  { "a chunk named like the journal", "refusing to open .-/made%-by%-forged%-journal for writing" },
  { "a chunk named like the secrets prompt", "refusing to run `touch .-/made%-by%-forged%-secrets`" },
  { "runbook.fs.lock", "refusing to take the lock .-/made%-by%-lock %(runbook%.fs%.lock%)" },
}
-- What the mistakes must not make (the shadow journal writes it when it is loaded, which
-- only a forged exemption would let it do).
local MADE = { "made-by-forged-journal", "made-by-forged-secrets", "made-by-shadow-journal",
               "made-by-lock" }
local READS = { "GET", "a read over WinRM", "a read with stdin over WinRM",
                "a read over WinRM and NTLM", "a file named like the journal earlier in "
                .. "package.path" }

describe("a runbook written by mistake", function()
  local scratch, winrm, echo_pid, echo_pipe, release, state_path

  setup(function()
    release = lab_lock.acquire("hostile-plan")
    scratch = support.tmpdir()
    winrm = lab.start("winrm", "auto", WINRM_ADDRESS)
    local address, port = ECHO:match("^(.*):(%d+)$")
    local r = support.sh(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=%s "
      .. "-addext subjectAltName=IP:%s -keyout %s/key.pem -out %s/cert.pem"):format(
      address, address, scratch, scratch))
    assert.equal(0, r.code, r.err)
    echo_pipe = io.popen(("exec /usr/bin/python3 tests/lab/https_echo.py %s %s %s/cert.pem "
      .. "%s/key.pem %s/echo.log & echo $!"):format(address, port, scratch, scratch, scratch))
    echo_pid = echo_pipe:read("l")
    assert.equal("ready", echo_pipe:read("l"))
    state_path = winrm.state_dir .. "/" .. WINRM_ADDRESS .. ".json"
    os.execute("mkdir -p " .. quote(scratch .. "/shadow/modules/runbook"))
    write(scratch .. "/shadow/modules/runbook/journal.lua", ("io.open(%q, 'w'):close()\n"
      .. "return {}\n"):format(scratch .. "/made-by-shadow-journal"))
    local config = { dir = scratch, root = support.root,
                     echo = "https://" .. ECHO, ca = scratch .. "/cert.pem",
                     winrm = { address = WINRM_ADDRESS, port = tonumber(winrm.port),
                               user = "FE1\\" .. winrm.user, password = winrm.password,
                               ca_file = winrm.ca_file } }
    write(scratch .. "/inventory.lua", "return {}")
    write(scratch .. "/book.lua", BOOK:format(cjson.encode(config)))
  end)

  teardown(function()
    if echo_pid then os.execute("kill " .. echo_pid) end
    if echo_pipe then echo_pipe:close() end
    lab.stop(winrm)
    os.execute("rm -rf " .. quote(scratch))
    release()
  end)

  local function tried(output)
    local results = {}
    for name, outcome, message in output:gmatch("TRIED ([^\t]*)\t([^\t]*)\t([^\n]*)") do
      results[name] = { outcome = outcome, message = message }
    end
    return results
  end

  local function lines(path)
    local found = {}
    for line in slurp(path):gmatch("[^\n]+") do found[#found + 1] = line end
    return found
  end

  -- A permitted connection holds to its exchange in any mode: here, in this process (which
  -- the sanitizer run instruments), outside any plan.
  it("holds a connection opened with a read permit to the permitted exchange in a run too",
     function()
    local permit = require "runbook.permit"
    require "powershell.reads"   -- registers the "powershell" kind of read
    local powershell = require "powershell"
    local task = require "runbook.task"
    local winrm_module = require "winrm"
    local function invocation(script) return powershell.invocation(powershell.wrap(script)) end
    local get_line = invocation("Get-CsSite")
    local long_line, long_stdin = invocation("Get-CsSite -Identity '" .. ("y"):rep(9000) .. "'")
    local host = { address = WINRM_ADDRESS, port = tonumber(winrm.port), auth = "basic",
                   user = "FE1\\" .. winrm.user, password = winrm.password,
                   ca_file = winrm.ca_file, max_envelope_size = 8192 }   -- stdin in pieces
    local function run(line, stdin, permitted_line, permitted_stdin)
      return pcall(task.run, function()
        local read = assert(permit.read("powershell", permitted_line, permitted_stdin))
        return winrm_module.run(host, line, { stdin = stdin, read_permit = read })
      end)
    end
    write(winrm.log, "")
    local ok, result = run(long_line, long_stdin, long_line, long_stdin)
    assert.is_true(ok, result)
    assert.is_number(result.status)                  -- it ran, stdin sent in pieces:
    local pieces = select(2, slurp(winrm.log):gsub("\nsend ", "\n"))
    assert.is_true(pieces > 1, slurp(winrm.log))
    -- (command line, stdin, what the refusal says)
    local CASES = {
      { invocation("Set-CsSite -Identity 'Site2'"), nil, get_line, nil,
        "its command line is not the permitted command" },
      { long_line, long_stdin:sub(1, -10) .. "AAAAAAA\r\n", long_line, long_stdin,
        "the stdin it sends is not the permitted stdin" },
      { long_line, long_stdin:sub(1, 200), long_line, long_stdin,
        "it ends stdin before the permitted stdin was sent in full" },
      { get_line, "x", get_line, nil, "the permitted command has no stdin" },
    }
    for _, case in ipairs(CASES) do
      write(winrm.log, "")
      local refused, err = run(case[1], case[2], case[3], case[4])
      assert.is_false(refused)
      assert.matches(case[5], err)
      assert.is_nil(slurp(winrm.log):match("\ncommand %S+ %S+ [^\n]*Set"), slurp(winrm.log))
    end
    assert.is_nil(require("lab.emulator").load_state(state_path).sites[2].Description)
  end)

  for _, command in ipairs { "plan", "run --yes" } do
    it("refuses each mistake before it reaches a server, and reads still run (" .. command
       .. ")", function()
      write(scratch .. "/echo.log", "")
      write(winrm.log, "")
      local r = support.sh(("cd %s && RUNBOOK_STATE_DIR=%s %s %s -i inventory.lua book.lua")
        :format(quote(scratch), quote(scratch .. "/state"), quote(support.bin), command))
      assert.equal(0, r.code, r.out .. r.err)
      local results, wrong = tried(r.out), {}
      for _, case in ipairs(REFUSED) do
        local result = results[case[1]] or { outcome = "not tried", message = r.out .. r.err }
        if result.outcome ~= "refused" or not result.message:match(case[2]) then
          wrong[#wrong + 1] = ("%s: %s %s"):format(case[1], result.outcome, result.message)
        end
      end
      for _, name in ipairs(READS) do
        local result = results[name] or { outcome = "not tried", message = "" }
        if result.outcome ~= "ok" then
          wrong[#wrong + 1] = ("%s: %s %s"):format(name, result.outcome, result.message)
        end
      end
      assert.same({}, wrong)
      for _, name in ipairs(MADE) do
        assert.is_nil(io.open(scratch .. "/" .. name), name .. " was made")
      end
      -- the echo server saw the one GET, nothing else
      assert.same({ "GET /look" }, lines(scratch .. "/echo.log"))
      -- the WinRM emulator ran the permitted commands only: the recording, the three reads,
      -- and the permitted command of "other stdin" and "stdin the command has not" (started,
      -- its stdin refused, terminated); the replays name the recording's shell, long gone,
      -- and run nothing. The one stdin it got is the read's with stdin.
      local commands, sends = 0, 0
      for _, line in ipairs(lines(winrm.log)) do
        if line:match("^command ") then commands = commands + 1 end
        if line:match("^send ") then sends = sends + 1 end
      end
      assert.equal(6, commands, slurp(winrm.log))
      assert.equal(1, sends, slurp(winrm.log))
      assert.is_nil(require("lab.emulator").load_state(state_path).sites[2].Description)
    end)
  end
end)

describe("what no HTTP request carries, in a run as in a plan", function()
  local http = require "runbook.http"
  local task = require "runbook.task"

  -- (request, what the refusal says); nothing listens on 127.0.53.79: a request that went
  -- out would fail with "refused", not raise
  local CASES = {
    { { body = "x" }, "a GET request carries no body" },
    { { method = "HEAD", body = "" }, "a HEAD request carries no body" },
    { { method = "OPTIONS", body = "x" }, "an? OPTIONS request carries no body" },
    { { method = "POST", body = "x", follow = true }, "does not follow redirects" },
    { { method = "GET / HTTP/1.1\r\nX:" }, "method: expected an HTTP method" },
    { { headers = { ["X-A"] = "a\r\nX-B: b" } }, "the value of header X%-A holds a CR, LF" },
    { { headers = { ["X-A\r\nX-B"] = "b" } }, "is not a token" },
  }
  for _, case in ipairs(CASES) do
    it("refuses " .. cjson.encode(case[1]), function()
      local request = { url = "http://127.0.53.79:9/x", timeout = 2 }
      for k, v in pairs(case[1]) do request[k] = v end
      local ok, err = pcall(task.run, function() return http.request(request) end)
      assert.is_false(ok)
      assert.matches(case[2], err)
    end)
  end
end)

-- An SSH server that offers another type of host key than the one known_hosts holds for it
-- is an impostor until proven otherwise (OpenSSH: REMOTE HOST IDENTIFICATION HAS CHANGED),
-- under every host_key_policy; and a server with several keys is asked for the known type.
describe("host keys of another type", function()
  local ssh = require "runbook.ssh"
  local task = require "runbook.task"
  local servers = {}

  -- A lab sshd on address whose host keys are of the given types (tests/lab/sshd.sh).
  local function start_sshd(address, types)
    local dir = support.tmpdir()
    local r = support.sh(("SSHD_HOST_KEY_TYPES=%s tests/lab/sshd.sh start %s auto %s")
                         :format(quote(types), quote(dir), address))
    assert.equal(0, r.code, r.err)
    local server = { name = "sshd", dir = dir }
    for key, value in r.out:gmatch("([%w_]+)=([^\n]*)") do server[key] = value end
    servers[#servers + 1] = server
    return server
  end

  local function fingerprint(public_key)
    return support.sh("ssh-keygen -l -E sha256 -f " .. quote(public_key)).out:match("(SHA256:%S+)")
  end

  local function connect(server, address, known_hosts, policy)
    return task.run(function()
      local session, err, code = ssh.session { host = address, port = tonumber(server.port),
        user = server.user, key_file = server.shell_key, known_hosts = known_hosts,
        host_key_policy = policy, timeout = 10 }
      if session then session:close() end
      return session ~= nil, err, code
    end)
  end

  teardown(function() for _, server in ipairs(servers) do lab.stop(server) end end)

  it("refuses an ECDSA key where known_hosts knows an ed25519 one, under every policy",
     function()
    local address = "127.0.22.81"
    local server = start_sshd(address, "ecdsa")
    local other = server.dir .. "/known_ed25519"
    support.sh("ssh-keygen -q -t ed25519 -N '' -f " .. quote(other))
    local known = write(server.dir .. "/other_type_known_hosts", ("# the old server\n[%s]:%s %s\n")
      :format(address, server.port, slurp(other .. ".pub"):match("^(%S+ %S+)")))
    local before = slurp(known)
    for _, policy in ipairs { "strict", "accept-new" } do
      local ok, err, code = connect(server, address, known, policy)
      assert.is_false(ok, policy)
      assert.equal("hostkey", code, policy)
      assert.matches("REMOTE HOST IDENTIFICATION HAS CHANGED", err)
      assert.truthy(err:find("ECDSA key sent by the remote host is " ..
                             fingerprint(server.host_key), 1, true), err)
      assert.truthy(err:find("offending ED25519 key in " .. known .. ":2", 1, true), err)
      assert.is_nil(err:find("unknown", 1, true), err)
      assert.equal(before, slurp(known), policy .. " changed known_hosts")
    end
  end)

  it("asks a server with several keys for the type known_hosts knows", function()
    local address = "127.0.22.82"
    local server = start_sshd(address, "ecdsa ed25519")
    for _, type in ipairs { "ed25519", "ecdsa" } do
      local public = slurp(server.dir .. "/ssh_host_" .. type .. "_key.pub"):match("^(%S+ %S+)")
      local known = write(server.dir .. "/known_" .. type, ("[%s]:%s %s\n")
                          :format(address, server.port, public))
      local ok, err = connect(server, address, known, "strict")
      assert.is_true(ok, type .. ": " .. tostring(err))
    end
  end)
end)
