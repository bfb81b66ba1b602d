--- A real-world inventory template: copy it, replace every value with your estate's, then
--   runbook check xmpp-failover -i contoso.lua    (validates; no network traffic)
--   runbook plan  xmpp-failover -i contoso.lua    (reads everything; changes nothing)
-- Secrets are references only (env:NAME, file:PATH with mode 0600, prompt, agent).
return {
  domain = "contoso.com",                  -- the SIP domain federated over XMPP
  sip_domains = { "contoso.com", "fabrikam.com" },   -- each gets the pools' SRV records
  management = "fe1.contoso.com",          -- a Front End where the Cs* cmdlets run
  management_export = "D:\\RunbookExports", -- there: Export-CsConfiguration before Set-CsSite

  -- How to reach the servers (docs/transports.md). Pool membership is discovered from the
  -- topology (Get-CsPool), so only what differs from the defaults is listed.
  server_defaults = {
    transport = "ssh", user = "CONTOSO\\rtcadmin", key_file = "/etc/runbook/id_ed25519",
    known_hosts = "/etc/runbook/known_hosts", host_key_policy = "strict",
    command_timeout = 120,
  },
  servers = {
    -- Edge servers are usually workgroup hosts: a local account of their own.
    ["edge2a.contoso.com"] = { user = "rtcadmin", address = "172.16.2.11",
                               internal_address = "172.16.2.11" },
    ["edge2b.contoso.com"] = { user = "rtcadmin", address = "172.16.2.12",
                               internal_address = "172.16.2.12" },
  },

  -- Every Edge pool that can carry XMPP federation, with its PUBLIC Access Edge address
  -- (after NAT, as the Internet sees it): the A record gets this IP, never an FQDN.
  -- Each pool has its own _xmpp-server._tcp SRV record, with its own priority (lower is
  -- preferred): srv_target (default dns.xmpp_host), srv_priority (10), srv_weight (0).
  pools = {
    ["edgepool1.contoso.com"] = { public_ip = "198.51.100.10", srv_priority = 10 },
    ["edgepool2.contoso.com"] = { public_ip = "203.0.113.10", srv_priority = 20,
                                  srv_target = "xmpp2.contoso.com", srv_weight = 0,
                                  public_ipv6 = "2001:db8:2::10",   -- the AAAA, if any
                                  -- optional: their PowerShell starts while the Front End
                                  -- is asked for the topology, which stays the truth
                                  edge_servers = { "edge2a.contoso.com", "edge2b.contoso.com" } },
  },

  -- The external DNS zone (docs/dns-providers.md).
  dns = {
    provider = "rfc2136", zone = "contoso.com", xmpp_host = "xmpp.contoso.com", ttl = 300,
    server = "192.0.2.53", key = "file:/etc/runbook/contoso-tsig.key",
    propagation_timeout = 600,
  },

  -- Where "from outside" checks are made (docs/verification.md).
  vantage = { transport = "local", name = "ops-laptop (outside the perimeter)" },

  -- The default direction of xmpp-failover (and, reversed, of xmpp-failback).
  failover = { from_pool = "edgepool1.contoso.com", to_pool = "edgepool2.contoso.com" },

  audit_log = "/var/log/runbook/audit.jsonl",
}
