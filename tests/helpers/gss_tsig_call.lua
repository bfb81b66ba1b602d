--- tests/helpers/gss_tsig_call.lua OPTIONS_JSON: one GSS-TSIG change through the rfc2136
-- provider in a process of its own, for specs that must give it an environment (a clock
-- through faketime). OPTIONS_JSON is the provider's config; the A record NAME is set to
-- ADDRESS (options.set = {name=, address=}). Prints {"changed":} or {"error":, "code":}
-- as JSON.
local cjson = require "cjson"
local task = require "runbook.task"

local options = cjson.decode(arg[1])
local set = options.set
options.set = nil
local result = task.run(function()
  local p = require("dns.rfc2136").new(options)
  local done, message, code = p.set(set.name, "A", { { address = set.address } }, 300)
  if not done then return { error = message, code = code } end
  return { changed = done.changed }
end)
print(cjson.encode(result))
