-- What an emulated Windows server costs and counts (modules/lab/emulator.lua, run by
-- tests/lab/lync-emulator): a PowerShell process start and the Lync module's first use in a
-- process are waits, not CPU; a persistent session pays them once; every process, session,
-- script and cmdlet is counted per server.
local support = require "support"
local emulator = require "lab.emulator"
local powershell = require "powershell"

-- Runs the emulator as one PowerShell process (the local transport's way) with the given
-- costs; -> {out=, err=, code=, wall=, cpu=} (seconds, from /usr/bin/time).
local function run_emulator(dir, costs, words, stdin)
  local r = support.sh(("LYNC_EMULATOR_COSTS=%s LYNC_EMULATOR_STATE_DIR=%s /usr/bin/time "
    .. "-f 'time %%e %%U %%S' -o %s/time %s %s"):format(costs, support.quote(dir),
    support.quote(dir), support.quote(support.emulator), words), stdin)
  local wall, user, system = support.slurp(dir .. "/time"):match("time (%S+) (%S+) (%S+)")
  r.wall, r.cpu = tonumber(wall), tonumber(user) + tonumber(system)
  return r
end

local function encoded(script)
  return "-NoProfile -NonInteractive -EncodedCommand " .. powershell.base64(
    powershell.utf16le(script))
end

describe("the emulated servers' costs", function()
  local dir
  before_each(function() dir = support.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. support.quote(dir)) end)

  it("charge a process start and the Lync module's first use as waits", function()
    local r = run_emulator(dir, "0.3,0.5", encoded(powershell.wrap(
      powershell.command("Get-CsSite", {}))))
    assert.equal(0, r.code, r.err)
    assert.truthy(r.out:find("Site:Site2", 1, true))
    assert.is_true(r.wall >= 0.8, "wall " .. r.wall)
    assert.is_true(r.cpu < 0.3, "cpu " .. r.cpu)
  end)

  it("charge no module load for a script without a Lync cmdlet", function()
    -- a module load would make it 3.3 s or more: the bound leaves a loaded machine 2 s
    local r = run_emulator(dir, "0.3,3", encoded(powershell.wrap("Get-Command -Name 'Get-X'")))
    assert.is_true(r.wall >= 0.3 and r.wall < 2.5, "wall " .. r.wall)
  end)

  it("count processes, scripts and cmdlets per server", function()
    local script = encoded(powershell.wrap(powershell.command("Get-CsSite", {})))
    run_emulator(dir, "0,0", script)
    run_emulator(dir, "0,0", script)
    local counters = emulator.counters(dir .. "/local.json")
    assert.same({ processes = 2, sessions = 0, scripts = 2, cmdlets = 4,
                  by_cmdlet = { ["Get-CsSite"] = 2, ["ConvertTo-Json"] = 2 } }, counters)
  end)

  it("charge a persistent session once, however many scripts it runs", function()
    local boundary = string.rep("ab12", 8)
    local command = powershell.session_command(boundary):gsub("^powershell ", "")
    local frames = {}
    for i = 1, 3 do
      frames[i] = powershell.session_frame(powershell.session_script(
        powershell.command("Get-CsPool", {})))
    end
    local r = run_emulator(dir, "0.3,1.5", command, table.concat(frames))
    assert.equal(0, r.code, r.err)
    -- once: 1.8 s; charged per script it would be 4.8 s or more
    assert.is_true(r.wall >= 1.8 and r.wall < 3.5, "wall " .. r.wall)
    local ready = r.out:find(boundary .. " ready\r\n", 1, true)
    assert.equal(1, ready)
    local found, from = 0, #boundary + 9
    while true do
      local status, json, next_from = powershell.find_frame(r.out, boundary, from)
      if not status then break end
      assert.equal(0, status)
      assert.truthy(json:find("edgepool2.contoso.com", 1, true))
      found, from = found + 1, next_from
    end
    assert.equal(3, found)
    local counters = emulator.counters(dir .. "/local.json")
    assert.equal(1, counters.processes)
    assert.equal(1, counters.sessions)
    assert.equal(3, counters.scripts)
    assert.equal(3, counters.by_cmdlet["Get-CsPool"])
  end)
end)
