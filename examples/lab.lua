--- The embedded lab: a simulated two-site Lync estate for contoso.com. runbook uses this
-- inventory when none is given; every line it prints then says [sim]. Nothing here is a
-- real server. Inject faults with --set lab.fault=NAME (modules/lab/world.lua lists them).
return {
  domain = "contoso.com",
  management = "fe1.contoso.com",
  management_export = "D:\\RunbookExports",   -- Export-CsConfiguration before Set-CsSite
  servers = {
    ["edge1a.contoso.com"] = { internal_address = "10.0.1.11" },
    ["edge1b.contoso.com"] = { internal_address = "10.0.1.12" },
    ["edge2a.contoso.com"] = { internal_address = "10.0.2.11" },
    ["edge2b.contoso.com"] = { internal_address = "10.0.2.12" },
  },
  pools = {
    ["edgepool1.contoso.com"] = { public_ip = "198.51.100.10", srv_priority = 10 },
    ["edgepool2.contoso.com"] = { public_ip = "203.0.113.10", srv_priority = 20 },
  },
  dns = { provider = "sim", zone = "contoso.com", xmpp_host = "xmpp.contoso.com", ttl = 300 },
  vantage = { transport = "sim" },
  failover = { from_pool = "edgepool1.contoso.com", to_pool = "edgepool2.contoso.com" },
  lab = {
    sites = { Site1 = { route = "edgepool1.contoso.com" }, Site2 = {} },
    pools = {
      ["edgepool1.contoso.com"] = { site = "Site1",
        servers = { "edge1a.contoso.com", "edge1b.contoso.com" } },
      ["edgepool2.contoso.com"] = { site = "Site2",
        servers = { "edge2a.contoso.com", "edge2b.contoso.com" } },
    },
    fault = "none",
  },
}
