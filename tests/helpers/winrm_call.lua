--- tests/helpers/winrm_call.lua OPTIONS_JSON [COMMAND_LINE]: one winrm.run in a process of
-- its own, for specs that must give it an environment (KRB5_CONFIG, KRB5CCNAME, a clock
-- through faketime). Prints {"status":, "stdout":} or {"error":, "code":} as JSON; the
-- options' password is read from the variable WINRM_PASSWORD, never from the command line.
local cjson = require "cjson"
local task = require "runbook.task"
local winrm = require "winrm"
local powershell = require "powershell"

local options = cjson.decode(arg[1])
options.password = os.getenv("WINRM_PASSWORD")
local line = arg[2] or powershell.command_line(powershell.wrap(powershell.command("Get-CsSite",
                                                                                  {})))
local result = task.run(function()
  local r, message, code = winrm.run(options, line)
  if not r then return { error = message, code = code } end
  return { status = r.status, stdout = r.stdout }
end)
print(cjson.encode(result))
