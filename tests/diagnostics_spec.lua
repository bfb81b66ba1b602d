-- modules/diagnostics.lua, the REPL's incident helpers, stay inside the inventory's world:
-- dig() asks each of the zone's servers (found through the inventory's dns.server), never
-- this machine's resolver unless the inventory says so; status() does not contact a server
-- of the topology that the inventory gives no address. Against a real BIND. #repl
local diagnostics = require "diagnostics"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local task = require "runbook.task"

-- Runs fn with print captured; returns fn's results and the printed text.
local function printed(fn)
  local lines, real_print = {}, _G.print
  _G.print = function(...)   -- the helpers print; the test reads it
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    lines[#lines + 1] = table.concat(parts, "\t")
  end
  local ok, result = pcall(task.run, fn)
  _G.print = real_print
  if not ok then error(result, 0) end
  return result, table.concat(lines, "\n")
end

local function helpers(dns)
  local env = {}
  local ctx = { data = {}, params = {}, inventory = {
    domain = "contoso.com", management = "fe1.contoso.com", pools = {}, dns = dns } }
  diagnostics.install(env, ctx)
  return env
end

describe("the REPL helpers stay inside the inventory #repl", function()
  local named, release
  setup(function()
    release = lab_lock.acquire("dns")
    named = lab.start("named", "127.0.53.1", "5301")
  end)
  teardown(function()
    lab.stop(named)
    release()
  end)

  it("dig asks each server the zone's NS names, resolved at the inventory's server", function()
    local env = helpers { provider = "rfc2136", zone = "contoso.com", xmpp_host = "xmpp.contoso.com",
                          server = "127.0.53.1", port = 5301 }
    local answers, text = printed(function() return env.dig("ns1.contoso.com", "A") end)
    assert.truthy(answers["ns1.contoso.com"], text)
    assert.matches("ns1%.contoso%.com +NOERROR 127%.0%.53%.1", text)
    assert.is_nil(text:find("resolver", 1, true), text)
  end)

  it("refuses to ask this machine's resolver when the inventory names no DNS server", function()
    local env = helpers { provider = "manual", zone = "contoso.com", xmpp_host = "xmpp.contoso.com" }
    local ok, err = pcall(printed, function() return env.dig("contoso.com", "SOA") end)
    assert.is_false(ok)
    assert.matches("the inventory names no DNS server to ask: set dns%.authoritative, dns%.server "
      .. "or dns%.resolver", tostring(err))
  end)

  it("port() resolves a name at the inventory's DNS server, not this machine's", function()
    local env = helpers { provider = "rfc2136", zone = "contoso.com", xmpp_host = "xmpp.contoso.com",
                          server = "127.0.53.1", port = 5301 }
    -- ns1.contoso.com is 127.0.53.1 in the lab's zone only: no resolver of this machine knows it
    local result, text = printed(function()
      return env.port("ns1.contoso.com", 5301, { from = "inside" })
    end)
    assert.equal("127.0.53.1", result.host, text)
    local manual = helpers { provider = "manual", zone = "contoso.com", xmpp_host = "xmpp.contoso.com" }
    local ok, err = pcall(printed, function() return manual.port("ns1.contoso.com", 53) end)
    assert.is_false(ok)
    assert.matches("the inventory names no DNS server to ask", tostring(err))
  end)
end)
