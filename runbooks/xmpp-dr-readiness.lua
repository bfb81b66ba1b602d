--- Read-only audit: is the estate ready for an XMPP federation failover? Exit 1 lists the gaps
-- Run it any day: `runbook plan xmpp-dr-readiness -i contoso.lua`. Every step only looks.
-- It follows the seed's advice (one SRV record per Edge pool, distinct priorities, so that a
-- failover needs no new record) and checks what a failover will rely on.
local estate = require "estate"
local federation = require "federation"
local lync = require "lync"
local remoting = require "remoting"
local runbook = require "runbook"
local xmpp = require "xmpp"

local say = federation.say     -- what the audit says, in en, de and fr (federation_messages)

local function pool_names(ctx)
  local names = {}
  for name in pairs(ctx.inventory.pools) do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- The addresses an SRV target resolves to (from the zone itself).
local function addresses_of(ctx, target)
  local records = estate.dns(ctx).get(target, "A") or {}
  local set = {}
  for _, record in ipairs(records) do set[record.address] = true end
  return set
end

local function all_edge_servers(ctx)
  local hosts = {}
  for _, pool in ipairs(pool_names(ctx)) do
    for _, host in ipairs(estate.edge_servers(ctx, pool)) do hosts[#hosts + 1] = host end
  end
  return hosts
end

-- Every Windows server runbook drives: every Edge server of every pool, and the Front End.
-- A pool whose Edge servers cannot be listed stands for them, so that its check fails
-- instead of passing over servers nobody looked at. The Front End comes last: a step that
-- fails shows the last failing server's text, and when the Front End fails, the pools
-- cannot be listed either — its own verdict says why.
local function windows_servers(ctx)
  local hosts, seen, cms = {}, {}, estate.cms(ctx)
  local function add(host)
    if not seen[host.name] then seen[host.name] = true; hosts[#hosts + 1] = host end
  end
  seen[cms.name] = true
  for _, pool in ipairs(pool_names(ctx)) do
    local ok, servers = pcall(estate.edge_servers, ctx, pool)
    if not ok and tostring(servers) == "cancelled" then error(servers, 0) end
    if ok then for _, host in ipairs(servers) do add(host) end
    else add({ name = pool, unlisted = servers }) end
  end
  hosts[#hosts + 1] = cms
  return hosts
end

return runbook.define {
  id = "xmpp-dr-readiness",
  title = "XMPP federation disaster-recovery readiness",
  translations = runbook.translations "xmpp-federation.titles",   -- German, French
  inventory = estate.schema,
  steps = {
    { id = "srv-per-pool",
      title = "One SRV record per Edge pool, each with its own priority",
      guidance = "add an _xmpp-server._tcp SRV record for every Edge pool, distinct "
        .. "priorities, as the inventory's srv_target, srv_priority and srv_weight say",
      hosts = federation.sip_domains,   -- every SIP domain federated over XMPP
      check = function(ctx, domain)  -- the failover's SRV step asks the same pool_srv_verdict
        local records = federation.srv_records(ctx, domain)
        local gaps, seen, by_priority = {}, {}, {}
        for _, pool in ipairs(pool_names(ctx)) do
          local right, detail, verdict = federation.pool_srv_verdict(ctx, pool, records)
          local priority, target = verdict.wanted.priority, verdict.wanted.target
          detail = domain .. ": " .. detail
          if not right then gaps[#gaps + 1] = detail else seen[#seen + 1] = detail end
          if by_priority[priority] then
            gaps[#gaps + 1] = say("shares_priority", domain, pool, priority,
                                  by_priority[priority])
          end
          by_priority[priority] = pool
          local ip = ctx.inventory.pools[pool].public_ip
          if right and target ~= ctx.inventory.dns.xmpp_host:lower()
             and ip and not addresses_of(ctx, target)[ip] then
            gaps[#gaps + 1] = say("does_not_resolve", pool, target, ip)
          end
        end
        return #gaps == 0, #gaps == 0 and table.concat(seen, "; ") or table.concat(gaps, "; ")
      end },
    { id = "ttl",
      title = "Partners keep the old XMPP A and SRV answers no longer than the inventory allows",
      guidance = "lower the TTL of these records to dns.ttl_threshold seconds or less now: "
        .. "after a failover, resolvers hand out the old answer for up to the old TTL",
      check = function(ctx)
        local threshold, seen, over = ctx.inventory.dns.ttl_threshold, {}, {}
        local a, aaaa = federation.address_records(ctx)
        local sets = { { ctx.inventory.dns.xmpp_host .. " A", a },
                       { ctx.inventory.dns.xmpp_host .. " AAAA", aaaa } }
        for _, domain in ipairs(federation.sip_domains(ctx)) do
          sets[#sets + 1] = { federation.srv_name(ctx, domain) .. " SRV",
                              federation.srv_records(ctx, domain) }
        end
        for _, set in ipairs(sets) do
          local ttl = set[2][1] and set[2][1].ttl
          if ttl then
            seen[#seen + 1] = say("ttl_seen", set[1], ttl)
            if threshold and ttl > threshold then
              over[#over + 1] = say("ttl_over", set[1], ttl, threshold)
            end
          end
        end
        if not threshold then
          return true, say("ttl_not_compared", table.concat(seen, ", "))
        end
        return #over == 0, #over == 0 and table.concat(seen, ", ") or table.concat(over, "; ")
      end },
    { id = "prerequisites",
      title = "Every pool can host XMPP federation: partners, federation, version, certificates",
      guidance = "docs/inventory.md, \"Prerequisites\", says what each finding needs",
      hosts = function(ctx) return pool_names(ctx) end,
      check = function(ctx, pool)
        local ready, detail = federation.prerequisites(ctx, pool)
        local answers, where = federation.cms_master(ctx)      -- the CMS master, wherever it is
        return ready and answers, detail .. "; " .. where
      end },
    { id = "route-deployed",
      title = "The XMPP federation route points at a deployed Edge pool",
      check = function(ctx)
        local cms, routes = estate.cms(ctx), {}
        for _, site in ipairs(lync.sites(cms)) do
          local name = site.Identity:gsub("^Site:", "")
          local route = lync.federation_route(cms, name)
          if route then routes[#routes + 1] = name .. " → " .. route end
        end
        return #routes > 0, #routes > 0 and table.concat(routes, ", ") or say("no_site_route")
      end },
    { id = "services-running",
      title = "The Lync services run on every Edge server of every pool",
      hosts = all_edge_servers,
      check = function(_, host)
        local stopped = {}
        for _, service in ipairs(lync.services(host, { computer = host.name })) do
          if service.Status ~= "Running" then stopped[#stopped + 1] = service.Name end
        end
        return #stopped == 0, #stopped == 0 and say("all_running")
          or say("stopped", table.concat(stopped, ", "))
      end },
    { id = "ports-from-servers",
      title = "The ports XMPP federation needs open from where the traffic starts",
      guidance = "open the firewall: 23456 (MTLS) from the Front End to the Edge's internal "
        .. "interface, 5269 outbound from the Access Edge (the port summary for XMPP)",
      hosts = function(ctx) return pool_names(ctx) end,
      check = function(ctx, pool) return federation.ports_from_servers(ctx, pool) end },
    { id = "federation-each-pool",
      title = "Each pool answers XMPP on 5269 from outside, with a certificate for the domain",
      guidance = "docs/verification.md explains each failed stage (filtered: a firewall)",
      hosts = function(ctx) return pool_names(ctx) end,
      check = function(ctx, pool)
        local ip = ctx.inventory.pools[pool].public_ip
        local result = xmpp.probe { domain = ctx.inventory.domain, timeout = 5,
          targets = { { host = ip, port = 5269 } }, net = estate.probe_net(ctx),
          from = estate.probe_from(ctx), ca_file = estate.ca_file(ctx) }
        if result.ok then return true, ip .. ": " .. result.certificate.detail end
        return false, say("pool_stage_failed", ip, result.failed, result[result.failed].detail)
      end },
    { id = "windows-remoting",
      title = "runbook reaches every Windows server as the inventory says: listener, "
        .. "authentication, encryption",
      guidance = "docs/transports.md, \"Readiness: how runbook reaches each Windows server\", "
        .. "says what each finding means and what to run",
      hosts = windows_servers,   -- every Edge server of every pool, and the Front End
      check = function(ctx, host)   -- each way tried with a read; nothing is changed
        if host.unlisted then
          return false, remoting.unlisted(estate.cms(ctx).name, host.unlisted)
        end
        return remoting.readiness(host)
      end },
  },
}
