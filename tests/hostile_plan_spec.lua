-- The hostile-input corpus (issue 12): what an inventory or a runbook written by mistake
-- could make runbook do while it must change nothing. Every case runs under `runbook plan`
-- and inside a step's check of `runbook run`, and is asserted to change nothing: no file
-- made, no request reaching the servers' logs. Against real servers on loopback: an HTTPS
-- server that logs every request line (tests/lab/https_echo.py), the WinRM emulator
-- (tests/lab/winrm.sh), sshd (tests/lab/sshd.sh).
local cjson = require "cjson"
local lab = require "lab"
local lab_lock = require "lab_lock"
local support = require "support"
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
