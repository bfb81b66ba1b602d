-- Plan is a guarantee: every primitive that can change a system refuses while `runbook plan`
-- runs and inside a step's check in `runbook run` (a read-only task), whatever the runbook
-- does (runtime/permit.c, modules/runbook/guard.lua, modules/cmdlet.lua). Against real
-- servers on loopback: a sshd (tests/lab/sshd.sh) whose lync key runs the Lync emulator, the
-- WinRM emulator (tests/lab/winrm.sh), an HTTPS echo server, and the emulator as local
-- PowerShell and in-process (sim). A proven read still runs in a check.
local cjson = require "cjson"
local emulator = require "lab.emulator"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"
support.unwind_fully()   -- WinRM/NTLM loads gss-ntlmssp, whose leak tests/lsan.supp names
require "lab"   -- the sim transport: the lab plug-in registers it (modules/lab/init.lua)
local quote, slurp, write = support.quote, support.slurp, support.write

local SSH_ADDRESS, WINRM_ADDRESS, ECHO = "127.0.22.77", "127.0.23.77", "127.0.53.77:8443"

-- What each check tries (inside pcall), what its refusal must name, and why it is no read.
local ATTEMPTS = {
  { "evaluate Set-CsSite (sim)", "run Set%-CsSite %-Identity 'Site2' .- on fe1",
    "not a read: Set%-CsSite is not a Get%-, Test%- or Resolve%- cmdlet" },
  { "invoke Set-CsSite (sim)", "run Set%-CsSite on fe1" },
  { "invoke Set-CsSite (ssh)", "run Set%-CsSite on fe1" },
  { "invoke Set-CsSite (winrm)", "run Set%-CsSite on fe1" },
  { "invoke Set-CsSite (local)", "run Set%-CsSite on fe1" },
  { "evaluate a method call (sim)", "run %(Get%-CsSite %-Identity 'Site2'%)%.Delete%(%) on fe1",
    "not a read: it calls the method Delete" },
  { "process.run", "run `touch .-/made%-by%-process` %(process%.run%)" },
  { "os.execute", "run `touch .-/made%-by%-execute` %(os%.execute%)" },
  { "pcall(os.execute)", "run `touch .-/made%-by%-pcall` %(os%.execute%)" },
  { "io.open w", "open .-/made%-by%-open for writing %(io%.open mode \"w\"%)" },
  { "io.open a+", "open .-/keep for writing %(io%.open mode \"a%+\"%)" },
  { "io.output", "open .-/made%-by%-output for writing %(io%.output%)" },
  { "io.popen", "run `touch .-/made%-by%-popen` %(io%.popen%)" },
  { "os.remove", "remove .-/keep %(os%.remove%)" },
  { "os.rename", "rename .-/keep to .-/renamed %(os%.rename%)" },
  { "runbook.fs.append", "append to .-/keep %(runbook%.fs%.append%)" },
  { "ssh exec", "run `touch .-/made%-by%-ssh` over SSH on " .. SSH_ADDRESS },
  { "http POST", "POST https://" .. ECHO .. "/change" },
}
local READS = { "Get-CsSite (sim)", "Get-CsSite (ssh)", "Get-CsSite (winrm)", "Get-CsSite (local)",
                "evaluate Get-Command (sim)", "io.open r", "http GET" }

-- The runbook: step "attempts" tries every change, "reads" every read, each printing one
-- line "TRIED <name>\t<ok|refused>\t<message>"; both checks then hold. C is the config.
local BOOK = [[
local cjson = require "cjson"
local cmdlet = require "cmdlet"
require "lab"   -- the sim transport
local http = require "runbook.http"
local process = require "runbook.process"
local runbook = require "runbook"
local C = cjson.decode(%q)
local function file(name) return C.dir .. "/" .. name end
local SET = { Identity = "Site2", Description = "moved" }

local attempts = {
  { "evaluate Set-CsSite (sim)", function()
    return cmdlet.evaluate(C.sim, "Set-CsSite -Identity 'Site2' -Description 'moved'") end },
  { "invoke Set-CsSite (sim)", function() return cmdlet(C.sim, "Set-CsSite", SET) end },
  { "invoke Set-CsSite (ssh)", function() return cmdlet(C.ssh, "Set-CsSite", SET) end },
  { "invoke Set-CsSite (winrm)", function() return cmdlet(C.winrm, "Set-CsSite", SET) end },
  { "invoke Set-CsSite (local)", function() return cmdlet(C["local"], "Set-CsSite", SET) end },
  { "evaluate a method call (sim)", function()
    return cmdlet.evaluate(C.sim, "(Get-CsSite -Identity 'Site2').Delete()") end },
  { "process.run", function() return process.run { "touch", file "made-by-process" } end },
  { "os.execute", function() return os.execute("touch " .. file "made-by-execute") end },
  { "pcall(os.execute)", function()
    local ok, err = pcall(os.execute, "touch " .. file "made-by-pcall")
    if not ok then error(err, 0) end
  end },
  { "io.open w", function() return io.open(file "made-by-open", "w") end },
  { "io.open a+", function() return io.open(file "keep", "a+") end },
  { "io.output", function() return io.output(file "made-by-output") end },
  { "io.popen", function() return io.popen("touch " .. file "made-by-popen") end },
  { "os.remove", function() return os.remove(file "keep") end },
  { "os.rename", function() return os.rename(file "keep", file "renamed") end },
  { "runbook.fs.append", function() return require("runbook.fs").append(file "keep", "x") end },
  { "ssh exec", function()
    local session = assert(require("runbook.ssh").session(C.shell))
    return session:exec("touch " .. file "made-by-ssh")
  end },
  { "http POST", function()
    return http.request { method = "POST", url = C.echo .. "/change", ca_file = C.ca, body = "x" }
  end },
}

local reads = {
  { "Get-CsSite (sim)", function() return #cmdlet(C.sim, "Get-CsSite", {}) == 2 end },
  { "Get-CsSite (ssh)", function() return #cmdlet(C.ssh, "Get-CsSite", {}) == 2 end },
  { "Get-CsSite (winrm)", function() return #cmdlet(C.winrm, "Get-CsSite", {}) == 2 end },
  { "Get-CsSite (local)", function() return #cmdlet(C["local"], "Get-CsSite", {}) == 2 end },
  { "evaluate Get-Command (sim)", function()
    return #cmdlet.evaluate(C.sim, "(Get-Command -Name 'Set-CsSite').Parameters.Keys") > 0 end },
  { "io.open r", function()
    local f = assert(io.open(file "keep"))
    local text = f:read("a")
    f:close()
    return text == "keep\n"
  end },
  { "http GET", function()
    return assert(http.request { url = C.echo .. "/look", ca_file = C.ca }).status == 200 end },
}

local function try_all(list)
  for _, attempt in ipairs(list) do
    local ok, result = pcall(attempt[2])
    local outcome = ok and (result and "ok" or "false") or "refused"
    print(("TRIED %%s\t%%s\t%%s"):format(attempt[1], outcome, ok and "" or tostring(result)))
  end
  return true
end

return runbook.define {
  id = "plan-guard", title = { en = "Plan guard", de = "Plan guard", fr = "Plan guard" },
  steps = {
    { id = "attempts", title = { en = "Every change refuses" },
      check = function() return try_all(attempts) end },
    { id = "reads", title = { en = "Every read runs" },
      check = function() return try_all(reads) end },
  },
}
]]

-- A step whose check changes something without catching the refusal: the operator's view.
local UNCAUGHT = [[
return require("runbook").define {
  id = "uncaught", title = { en = "Uncaught" },
  steps = { { id = "touch", title = { en = "Touch" },
              check = function() os.execute("touch %s") return true end } },
}
]]

-- A step that changes things in its run (not read-only): the guard leaves runs alone.
local CHANGE = [[
local cmdlet = require "cmdlet"
require "lab"   -- the sim transport
local cjson = require "cjson"
local C = cjson.decode(%q)
local made = C.dir .. "/made-by-run"
return require("runbook").define {
  id = "change", title = { en = "Change" },
  steps = { { id = "make", title = { en = "Make" },
    check = function() local f = io.open(made) if f then f:close() end return f ~= nil end,
    run = function()
      assert(os.execute("touch " .. made .. "-execute"))
      assert(require("runbook.process").run { "touch", made .. "-process" })
      assert(io.open(made, "w")):close()
      cmdlet(C.winrm, "Set-CsSite", { Identity = "Site2", Description = "moved by run" })
      assert(require("runbook.http").request { method = "POST", url = C.echo, ca_file = C.ca })
    end,
    verify = function() return io.open(made) ~= nil, "not made" end } },
}
]]

describe("runbook plan and checks change nothing", function()
  local scratch, sshd, winrm, echo_pid, echo_pipe, release
  local config, states

  setup(function()
    release = lab_lock.acquire("plan-guard")
    scratch = support.tmpdir()
    sshd = lab.start("sshd", "auto", SSH_ADDRESS)
    winrm = lab.start("winrm", "auto", WINRM_ADDRESS)
    local address, port = ECHO:match("^(.*):(%d+)$")
    local r = support.sh(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=%s "
      .. "-addext subjectAltName=IP:%s -keyout %s/key.pem -out %s/cert.pem"):format(
      address, address, scratch, scratch))
    assert.equal(0, r.code, r.err)
    echo_pipe = io.popen(("exec /usr/bin/python3 tests/lab/https_echo.py %s %s %s/cert.pem "
      .. "%s/key.pem & echo $!"):format(address, port, scratch, scratch))
    echo_pid = echo_pipe:read("l")
    assert.equal("ready", echo_pipe:read("l"))
    os.execute("mkdir -p " .. quote(scratch .. "/local"))
    states = { sim = scratch .. "/sim.json", ssh = sshd.state_dir .. "/" .. SSH_ADDRESS .. ".json",
               winrm = winrm.state_dir .. "/" .. WINRM_ADDRESS .. ".json",
               ["local"] = scratch .. "/local/local.json" }
    config = {
      dir = scratch, echo = "https://" .. ECHO, ca = scratch .. "/cert.pem",
      sim = { name = "fe1", transport = "sim", state_file = states.sim },
      ssh = { name = "fe1", transport = "ssh", address = SSH_ADDRESS, port = tonumber(sshd.port),
              user = sshd.user, key_file = sshd.lync_key, known_hosts = sshd.known_hosts },
      shell = { host = SSH_ADDRESS, port = tonumber(sshd.port), user = sshd.user,
                key_file = sshd.shell_key, known_hosts = sshd.known_hosts },
      winrm = { name = "fe1", transport = "winrm", address = WINRM_ADDRESS,
                port = tonumber(winrm.port), user = "FE1\\" .. winrm.user,
                password = "env:GUARD_WINRM_PASSWORD", ca_file = winrm.ca_file },
      ["local"] = { name = "fe1", transport = "local", powershell = { support.emulator } },
    }
    write(scratch .. "/inventory.lua", "return {}")
    write(scratch .. "/guard.lua", BOOK:format(cjson.encode(config)))
    write(scratch .. "/uncaught.lua", UNCAUGHT:format(scratch .. "/made-by-uncaught"))
    write(scratch .. "/change.lua", CHANGE:format(cjson.encode(config)))
  end)

  teardown(function()
    if echo_pid then os.execute("kill " .. echo_pid) end
    if echo_pipe then echo_pipe:close() end
    lab.stop(sshd)
    lab.stop(winrm)
    os.execute("rm -rf " .. quote(scratch))
    release()
  end)

  before_each(function()
    for _, path in pairs(states) do
      emulator.save_state(path, emulator.default_state("fe1.contoso.com"))
    end
    write(scratch .. "/keep", "keep\n")
  end)

  local function runbook(args)
    return support.sh(("cd %s && RUNBOOK_STATE_DIR=%s GUARD_WINRM_PASSWORD=%s "
      .. "LYNC_EMULATOR_STATE_DIR=%s %s %s"):format(quote(scratch), quote(scratch .. "/state"),
      quote(winrm.password), quote(scratch .. "/local"), quote(support.bin), args))
  end

  local function tried(output)
    local results = {}
    for name, outcome, message in output:gmatch("TRIED ([^\t]*)\t([^\t]*)\t([^\n]*)") do
      results[name] = { outcome = outcome, message = message }
    end
    return results
  end

  local MADE = { "made-by-process", "made-by-execute", "made-by-pcall", "made-by-open",
                 "made-by-output", "made-by-popen", "made-by-ssh", "renamed", "made-by-uncaught" }

  local function assert_nothing_changed()
    for _, name in ipairs(MADE) do
      assert.is_nil(io.open(scratch .. "/" .. name), name .. " was created")
    end
    assert.equal("keep\n", slurp(scratch .. "/keep"))
    for transport, path in pairs(states) do
      assert.is_nil(emulator.load_state(path).sites[2].Description, transport .. " changed")
    end
  end

  local function assert_refusals(r, why)
    local results = tried(r.out)
    for _, case in ipairs(ATTEMPTS) do
      local name, what, not_read = case[1], case[2], case[3]
      local result = results[name]
      assert.is_not_nil(result, name .. " was not tried:\n" .. r.out .. r.err)
      assert.equal("refused", result.outcome, name .. ": " .. result.message)
      assert.matches("refusing to " .. what, result.message, 1)
      assert.matches(why, result.message)
      if not_read then assert.matches(not_read, result.message) end
    end
    for _, name in ipairs(READS) do
      assert.same({ outcome = "ok", message = "" }, results[name], name)
    end
  end

  it("refuses every change in `runbook plan`; reads still run", function()
    local r = runbook("plan -i inventory.lua guard.lua")
    assert.equal(0, r.code, r.out .. r.err)
    assert_refusals(r, "while planning: `runbook plan` changes nothing")
    assert_nothing_changed()
  end)

  it("refuses every change inside a check of `runbook run`; reads still run", function()
    local r = runbook("run --yes -i inventory.lua guard.lua")
    assert.equal(0, r.code, r.out .. r.err)
    assert_refusals(r, "inside a read%-only check: a step's check must only look")
    assert_nothing_changed()
  end)

  it("shows an uncaught refusal as the step's blocked reason", function()
    for _, command in ipairs { "plan", "run --yes" } do
      local r = runbook(command .. " -i inventory.lua uncaught.lua")
      assert.equal(1, r.code, r.out .. r.err)
      assert.matches("uncaught%.lua:%d+: refusing to run `touch .-made%-by%-uncaught` "
                     .. "%(os%.execute%)", r.out)
    end
    assert_nothing_changed()
  end)

  it("plans a change without making it, then makes it in the run and journals it", function()
    local r = runbook("plan -i inventory.lua change.lua")
    assert.equal(0, r.code, r.out .. r.err)
    assert_nothing_changed()
    r = runbook("run --yes -i inventory.lua change.lua")
    assert.equal(0, r.code, r.out .. r.err)
    for _, suffix in ipairs { "", "-execute", "-process" } do
      assert.is_not_nil(io.open(scratch .. "/made-by-run" .. suffix), "made-by-run" .. suffix)
    end
    assert.equal("moved by run", emulator.load_state(states.winrm).sites[2].Description)
    local journal = support.sh("cat " .. quote(scratch) .. "/state/change-*.jsonl").out
    assert.matches('"event":"outcome"', journal)
    assert.matches('"ok":true', journal)
    os.execute("rm -f " .. quote(scratch) .. "/made-by-run*")
  end)
end)

describe("runbook.reads", function()
  local powershell = require "powershell"
  local reads = require "powershell.reads"

  local function command_line_of(pipeline)
    return powershell.invocation(powershell.wrap(pipeline))
  end

  -- (pipeline, nil when a read, else a pattern of the reason)
  local CASES = {
    { "Get-CsSite", nil },
    { "Get-CsSite -Identity 'Site:Site2'", nil },
    { "get-cswindowsservice -ComputerName 'edge1' -Name @('RTCSRV','REPLICA')", nil },
    { "Get-CsService -EdgeServer -PoolFqdn 'edgepool1.contoso.com' -Verbose:$true", nil },
    { "Test-CsFederatedPartner -Domain 'example.org'", "Test%-CsFederatedPartner is not on the list" },
    { "Resolve-DnsName -Name 'xmpp.contoso.com' -Type 'A'", "Resolve%-DnsName is not on the list" },
    { "(Get-Command -Name 'Set-CsSite').Parameters.Keys", nil },
    { "$sites = Get-CsSite; $sites", nil },
    { "Set-CsSite -Identity 'Site2' -Description 'x'", "Set%-CsSite is not a Get%-" },
    { "Get-CsSite -Identity (Set-CsSite -Identity 'Site2')", "%-Identity of Get%-CsSite must be" },
    { "Get-CsSite; Stop-CsWindowsService -Name 'RTCSRV'", "Stop%-CsWindowsService is not" },
    { "Invoke-Expression 'Set-CsSite'", "Invoke%-Expression is not" },
    { "(Get-Item -Path 'C:\\x').Delete()", "calls the method Delete" },
    { "[IO.File]::WriteAllText('C:\\x', 'y')", "calls the method %[IO%.File%]::WriteAllText" },
    { "[IO.StreamWriter]'C:\\x'", "converts a value to %[IO%.StreamWriter%]" },
    { "Get-ChildItem | Remove-Item", "contains a pipeline, which runbook cannot prove" },
    { "Get-CsSite | ForEach-Object { [pscustomobject]@{ Identity = [string]$_.Identity } }",
      "contains a pipeline" },   -- a projection is a read only as a module's template
    { "Get-Item \"$(Remove-Item x)\"", "not PowerShell runbook can read through" },
    { "Get-CsSite # comment", "not PowerShell runbook can read through" },
    { "gci", "gci is not a Get%-" },
  }

  for _, case in ipairs(CASES) do
    local pipeline, reason = case[1], case[2]
    it((reason and "refuses " or "proves ") .. pipeline, function()
      local ok, why = reads.verify("powershell", command_line_of(pipeline))
      if reason then
        assert.is_nil(ok)
        assert.matches(reason, why)
      else
        assert.is_true(ok, why)
      end
    end)
  end

  it("proves a long script that travels on stdin, and nothing but the exact invocation", function()
    local line, stdin = command_line_of("Get-CsSite -Identity '" .. ("x"):rep(9000) .. "'")
    assert.is_not_nil(stdin)
    assert.is_true(reads.verify("powershell", line, stdin))
    local set_line, set_stdin =
      command_line_of("Set-CsSite -Description '" .. ("x"):rep(9000) .. "'")
    assert.is_nil(reads.verify("powershell", line, set_stdin))   -- the bootstrap, another script
    assert.is_nil(reads.verify("powershell", set_line, set_stdin))
    local get_line = command_line_of("Get-CsSite")
    assert.is_nil(reads.verify("powershell", get_line, "extra stdin"))
    assert.is_nil(reads.verify("powershell", get_line .. " ; rm -rf /"))
    assert.is_nil(reads.verify("powershell", powershell.command_line("Get-CsSite")))  -- unwrapped
    assert.is_nil(reads.verify("shell", "ls"))
  end)

  it("proves the vantage host's connect probe and nothing else", function()
    local probe = require("vantage").connect_command("192.0.2.1", 5269, 5)
    assert.is_true(reads.verify("vantage-connect", probe))
    assert.is_nil(reads.verify("vantage-connect", probe, "stdin"))
    assert.is_nil(reads.verify("vantage-connect", "touch /tmp/x 192.0.2.1 5269 5"))
  end)
end)

describe("read permits", function()
  it("cover exactly the command they were minted for, also in C", function()
    local dir = support.tmpdir()
    local script = write(dir .. "/permits.lua", ([[
      local powershell = require "powershell"
      require "powershell.reads"      -- registers the "powershell" verifier with runbook.reads
      local permit = require "runbook.permit"
      local process = require "runbook.process"
      require("runbook.task.core").enter_plan_mode()
      local line = powershell.invocation(powershell.wrap("Get-CsSite"))
      local read = assert(permit.read("powershell", line))
      print(permit.read("powershell", powershell.invocation(powershell.wrap("Set-CsSite"))))
      print(tostring(read), getmetatable(read))
      for _, read_permit in ipairs { read, {}, "forged" } do
        print(pcall(process.run, { "touch", %q }, { read_permit = read_permit }))
      end
      -- the permit's words after "powershell", behind a read program or another program
      local function argv(program, extra)
        local words = { program }
        for word in line:gmatch("%%S+") do words[#words + 1] = word end
        table.remove(words, 2)
        if extra then words[#words + 1] = extra end
        return words
      end
      print(pcall(process.run, argv(%q), { read_permit = read }))
      print(pcall(process.run, argv(%q), { read_permit = read, stdin = "more" }))
      print(pcall(process.run, argv("/bin/true"), { read_permit = read }))
      print(pcall(process.run, argv(%q, "-NoLogo"), { read_permit = read }))
      local glued = argv(%q)
      glued[3] = glued[3] .. " " .. table.remove(glued, 4)
      print(pcall(process.run, glued, { read_permit = read }))
    ]]):format(dir .. "/made", support.emulator, support.emulator, support.emulator,
               support.emulator))
    local r = support.sh(("LYNC_EMULATOR_STATE_DIR=%s %s run %s"):format(quote(dir),
      quote(support.bin), quote(script)))
    os.execute("rm -rf " .. quote(dir))
    assert.equal(0, r.code, r.err)
    local lines = {}
    for line in r.out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.matches("^nil\tSet%-CsSite is not a Get%-, Test%- or Resolve%- cmdlet$", lines[1])
    assert.equal("read permit\trunbook.read_permit", lines[2])
    for i = 3, 5 do
      assert.matches("^false\t.*refusing to run `touch .-/made` %(process%.run%) while planning",
                     lines[i])
    end
    assert.matches("^true\ttable", lines[6])
    assert.matches("^false\t.*refusing to run `.-lync%-emulator %-NoProfile", lines[7])
    assert.matches("^false\t.*refusing to run `/bin/true %-NoProfile", lines[8])
    assert.matches("^false\t.*refusing to run `.-lync%-emulator %-NoProfile", lines[9])
    assert.matches("^false\t.*refusing to run `.-lync%-emulator %-NoProfile", lines[10])
  end)
end)
