-- RFC 2136 updates signed with TSIG (runtime/dns.c, modules/dns/key.lua) against a real BIND
-- named on 127.0.53.1; after each change `dig` (an independent client) reads the zone. #c #dns
local task = require "runbook.task"
local dns = require "runbook.dns"
local dns_key = require "dns.key"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"
local fs = require "runbook.fs"

-- The descriptors this process has open (the opendir of the count itself is closed again).
local function open_descriptors()
  return #fs.list("/proc/self/fd")
end

-- fn() with the collector stopped: what is released then is released by the code itself.
local function without_collector(fn)
  collectgarbage("stop")
  local ok, err = pcall(fn)
  collectgarbage("restart")
  assert(ok, err)
end

describe("dns.update against named #dns", function()
  local named, key, release

  setup(function()
    release = lab_lock.acquire("dns")   -- one test run at a time on 127.0.53.x
    named = lab.start("named", "127.0.53.1", "5302")
    key = assert(dns_key.read(named.key))
  end)

  teardown(function()
    lab.stop(named)
    release()
  end)

  -- dig's view of an RRset, sorted, one record per line
  local function dig(name, type)
    local r = support.sh(("dig @%s -p %s +short +norecurse %s %s | sort"):format(
      named.address, named.port, name, type))
    assert.equal(0, r.code, r.err)
    return r.out
  end

  local function update(args)
    args.server = args.server or named.address
    args.port = args.port or tonumber(named.port)
    args.zone = args.zone or "contoso.com"
    if args.key == nil then args.key = key elseif args.key == false then args.key = nil end
    return task.run(function() return dns.update(args) end)
  end

  it("changes an A record, guarded by the value it had", function()
    local result, message = update {
      prerequisites = { { name = "sip.contoso.com", type = "A",
                          records = { { address = "192.0.2.10" } } } },
      changes = {
        { op = "delete_rrset", name = "sip.contoso.com", type = "A" },
        { op = "add", name = "sip.contoso.com", type = "A", ttl = 60, address = "192.0.2.11" },
      },
    }
    assert.is_truthy(result, message)
    assert.equal("NOERROR", result.rcode)
    assert.equal("192.0.2.11\n", dig("sip.contoso.com", "A"))
  end)

  it("adds an SRV record and leaves the other SRV records in place", function()
    local result, message = update {
      changes = { { op = "add", name = "_xmpp-server._tcp.contoso.com", type = "SRV", ttl = 300,
                    priority = 20, weight = 0, port = 5269, target = "edge2.contoso.com" } },
    }
    assert.is_truthy(result, message)
    assert.equal("10 0 5269 edge1.contoso.com.\n20 0 5269 edge2.contoso.com.\n",
                 dig("_xmpp-server._tcp.contoso.com", "SRV"))
  end)

  it("deletes one record of an RRset and keeps the rest", function()
    assert(update {
      changes = { { op = "delete_record", name = "_xmpp-server._tcp.contoso.com", type = "SRV",
                    priority = 20, weight = 0, port = 5269, target = "edge2.contoso.com" } },
    })
    assert.equal("10 0 5269 edge1.contoso.com.\n", dig("_xmpp-server._tcp.contoso.com", "SRV"))
  end)

  it("adds TXT, CNAME and AAAA records and deletes a whole name", function()
    assert(update {
      changes = {
        { op = "add", name = "new.contoso.com", type = "TXT", text = "v=1 owner=runbook" },
        { op = "add", name = "new.contoso.com", type = "AAAA", address = "2001:db8::5" },
        { op = "add", name = "www.contoso.com", type = "CNAME", target = "sip.contoso.com" },
      },
    })
    assert.equal('"v=1 owner=runbook"\n', dig("new.contoso.com", "TXT"))
    assert.equal("2001:db8::5\n", dig("new.contoso.com", "AAAA"))
    assert.equal("sip.contoso.com.\n", dig("www.contoso.com", "CNAME"))
    assert(update { changes = { { op = "delete_name", name = "new.contoso.com" } } })
    assert.equal("", dig("new.contoso.com", "TXT"))
    assert.equal("", dig("new.contoso.com", "AAAA"))
  end)

  it("sends an update too big for UDP over TCP", function()
    local changes = {}
    for i = 1, 20 do
      changes[i] = { op = "add", name = "many.contoso.com", type = "TXT",
                     text = ("record %02d of an update larger than one UDP datagram"):format(i) }
    end
    local result, message = update { changes = changes }
    assert.is_truthy(result, message)
    local _, lines = dig("many.contoso.com", "TXT"):gsub("\n", "")
    assert.equal(20, lines)
  end)

  -- A DKIM key as its author splits it: two character strings in one TXT record.
  local DKIM = { "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu5ZQ" ..
                 ("A"):rep(180), "IDAQAB" .. ("B"):rep(60) }

  it("writes a TXT record split into several strings the way it was read", function()
    local rfc2136 = require "dns.rfc2136"
    local function provider()
      return rfc2136.new { zone = "contoso.com", server = named.address,
                           port = tonumber(named.port), key = key }
    end
    local name = "sel1._domainkey.contoso.com"
    task.run(function()
      assert(provider().set(name, "TXT", { { strings = DKIM } }, 300))
    end)
    assert.equal(('"%s" "%s"\n'):format(DKIM[1], DKIM[2]), dig(name, "TXT"))
    local read = task.run(function()
      local p = provider()
      local records = assert(p.get(name, "TXT"))
      assert.same(DKIM, records[1].strings)
      records[2] = { text = "v=spf1 -all" }
      assert(p.set(name, "TXT", records))      -- the two strings match as the prerequisite
      return assert(p.set(name, "TXT", { { text = "v=spf1 -all" } }))  -- delete that one
    end)
    assert.is_true(read.changed)
    assert.equal('"v=spf1 -all"\n', dig(name, "TXT"))
  end)

  it("cuts a TXT text longer than 255 bytes into 255-byte strings", function()
    local text = ("0123456789"):rep(30)
    assert(update { changes = { { op = "add", name = "long.contoso.com", type = "TXT",
                                  text = text } } })
    assert.equal(('"%s" "%s"\n'):format(text:sub(1, 255), text:sub(256)),
                 dig("long.contoso.com", "TXT"))
  end)

  it("refuses TXT strings over 255 bytes, or text and strings that differ", function()
    local cases = {
      { { strings = { ("x"):rep(256) } }, "at most 255 bytes" },
      { { text = "one", strings = { "o", "ne!" } }, "text and strings differ" },
      { { text = "one two", strings = { "one" } }, "text and strings differ" },
    }
    for _, case in ipairs(cases) do
      local change = case[1]
      change.op, change.name, change.type = "add", "bad.contoso.com", "TXT"
      local ok, err = pcall(update, { changes = { change } })
      assert.is_false(ok)
      assert.matches(case[2], tostring(err), 1, true)
    end
    assert.equal("", dig("bad.contoso.com", "TXT"))
  end)

  -- prerequisite that fails, the code it yields, and what the message names
  local failing = {
    { "an RRset with other values (a concurrent edit)", "nxrrset",
      { name = "edge1.contoso.com", type = "A", records = { { address = "192.0.2.99" } } } },
    { "an RRset that must not exist", "yxrrset",
      { name = "edge1.contoso.com", type = "A", exists = false } },
    { "an RRset that must exist", "nxrrset",
      { name = "edge1.contoso.com", type = "TXT", exists = true } },
    { "a name that must exist", "nxdomain", { name = "ghost.contoso.com", exists = true } },
    { "a name that must not exist", "yxdomain", { name = "edge1.contoso.com", exists = false } },
  }
  for _, case in ipairs(failing) do
    it("refuses the change when a prerequisite fails: " .. case[1], function()
      local result, message, code = update {
        prerequisites = { case[3] },
        changes = { { op = "add", name = "edge1.contoso.com", type = "A",
                      address = "192.0.2.77" } },
      }
      assert.is_nil(result)
      assert.equal(case[2], code)
      assert.matches("prerequisite failed", message)
      assert.matches("zone contoso.com at 127.0.53.1:5302", message, 1, true)
      assert.equal("192.0.2.21\n", dig("edge1.contoso.com", "A"))
    end)
  end

  for _, algorithm in ipairs { "sha1", "sha384", "sha512", "md5" } do
    it("signs with hmac-" .. algorithm .. " and verifies the signed reply", function()
      local other = assert(dns_key.read(named["key_" .. algorithm]))
      assert.equal("hmac-" .. algorithm, other.algorithm)
      local result, message = update {
        key = other,
        changes = { { op = "add", name = algorithm .. ".contoso.com", type = "A",
                      address = "192.0.2.1" } },
      }
      assert.is_truthy(result, message)
      assert.equal("192.0.2.1\n", dig(algorithm .. ".contoso.com", "A"))
    end)
  end

  it("reports BADSIG for a wrong secret, without the secret in the message", function()
    local wrong = { name = key.name, algorithm = key.algorithm,
                    secret = "c2VjcmV0LXRoYXQtaXMtd3Jvbmctc2VjcmV0LXRoYXQ=" }
    local result, message, code = update {
      key = wrong,
      changes = { { op = "add", name = "bad.contoso.com", type = "A", address = "192.0.2.1" } },
    }
    assert.is_nil(result)
    assert.equal("badsig", code)
    assert.matches("BADSIG", message)
    assert.is_nil(message:find(wrong.secret, 1, true))
    assert.equal("", dig("bad.contoso.com", "A"))
  end)

  it("reports BADKEY for a key the server does not know", function()
    local unknown = { name = "nobody.", algorithm = "hmac-sha256", secret = key.secret }
    local result, message, code = update {
      key = unknown,
      changes = { { op = "add", name = "bad.contoso.com", type = "A", address = "192.0.2.1" } },
    }
    assert.is_nil(result)
    assert.equal("badkey", code)
    assert.matches("does not know the TSIG key", message)
  end)

  it("reports REFUSED without a key, and for a key the zone does not grant", function()
    local change = { { op = "add", name = "bad.contoso.com", type = "A", address = "192.0.2.1" } }
    local result, message, code = update { key = false, changes = change }
    assert.is_nil(result)
    assert.equal("refused_update", code)   -- the server's answer, not a connection refused
    assert.is_false(require("runbook.failure").CAUSES[code])   -- a verdict, not transport
    assert.matches("allow%-update", message)
    result, message, code = update { key = assert(dns_key.read(named.key_denied)),
                                     changes = change }
    assert.is_nil(result, message)
    assert.equal("refused_update", code)
    assert.equal("", dig("bad.contoso.com", "A"))
  end)

  it("reports NOTAUTH for a zone the server does not serve", function()
    local result, message, code = update {
      zone = "fabrikam.com",
      changes = { { op = "add", name = "x.fabrikam.com", type = "A", address = "192.0.2.1" } },
    }
    assert.is_nil(result)
    assert.equal("notauth", code)
    assert.matches("not authoritative for the zone", message)
  end)

  it("reports NOTZONE for a name outside the zone", function()
    local result, _, code = update {
      changes = { { op = "add", name = "x.fabrikam.com", type = "A", address = "192.0.2.1" } },
    }
    assert.is_nil(result)
    assert.equal("notzone", code)
  end)

  it("times out against a port where nothing answers", function()
    local result, message, code = update {
      server = "127.0.53.5", port = 5399, timeout = 0.2, tries = 2,
      changes = { { op = "add", name = "x.contoso.com", type = "A", address = "192.0.2.1" } },
    }
    assert.is_nil(result)
    assert.truthy(code == "refused" or code == "timeout", code)
    assert.matches("127.0.53.5:5399", message, 1, true)
  end)

  it("raises on malformed records, never echoing the secret", function()
    task.run(function()
      assert.has_error(function()
        dns.update { server = named.address, zone = "contoso.com", key = key,
          changes = { { op = "add", name = "x.contoso.com", type = "A", address = "nope" } } }
      end)
      local ok, err = pcall(dns.update, { server = named.address, zone = "contoso.com",
        key = { name = "k.", algorithm = "hmac-sha256", secret = "not*base64!" } })
      assert.is_false(ok)
      assert.is_nil(tostring(err):find("not*base64!", 1, true))
    end)
  end)

  it("reports BADTIME when this host's clock is two hours off", function()
    local dir = support.tmpdir()
    local path = support.write(dir .. "/skewed.lua", ([[
      local dns = require "runbook.dns"
      local key = assert(require("dns.key").read("%s"))
      print(dns.update { server = "%s", port = %s, zone = "contoso.com", key = key,
        changes = { { op = "add", name = "skew.contoso.com", type = "A",
                      address = "192.0.2.1" } } })
    ]]):format(named.key, named.address, named.port))
    -- faketime preloads itself; the ASan build must then not insist on coming first
    local r = support.sh(("ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 "
      .. "faketime -f +2h %s run %s"):format(support.quote(support.bin), support.quote(path)))
    os.execute("rm -rf " .. support.quote(dir))
    assert.equal(0, r.code, r.err)
    assert.matches("BADTIME.*synchronize the clocks.*badtime", r.out)
    assert.equal("", dig("skew.contoso.com", "A"))
  end)

  it("closes the socket of every update as it ends, not at the next collection", function()
    without_collector(function()
      local before = open_descriptors()
      task.run(function()
        for i = 1, 100 do
          assert(dns.update { server = named.address, port = tonumber(named.port),
            zone = "contoso.com", key = key,
            changes = { { op = "delete_name", name = "gone" .. i .. ".contoso.com" } } })
        end
        for _ = 1, 100 do
          local result, _, code = dns.update { server = "127.0.53.5", port = 5399,
            zone = "contoso.com", key = key, timeout = 0.2, tries = 1,
            changes = { { op = "delete_name", name = "gone.contoso.com" } } }
          assert(result == nil and (code == "refused" or code == "timeout"), code)
        end
      end)
      assert.equal(before, open_descriptors())
    end)
  end)

  it("signs in C: runbook.tsig's Lua hmac never sees the key", function()
    local tsig = require "runbook.tsig"
    local hmac, calls = tsig.hmac, 0
    tsig.hmac = function(...) calls = calls + 1 return hmac(...) end
    local ok, result, message = pcall(update,
      { changes = { { op = "delete_name", name = "spied.contoso.com" } } })
    tsig.hmac = hmac
    assert.is_true(ok, result)
    assert.is_truthy(result, message)
    assert.equal(0, calls)
  end)

  it("is refused in plan mode before anything is sent", function()
    local dir = support.tmpdir()
    local path = support.write(dir .. "/plan.lua", ([[
      require("runbook.task.core").enter_plan_mode()
      local dns = require "runbook.dns"
      dns.update { server = "%s", port = %s, zone = "contoso.com",
        changes = { { op = "add", name = "plan.contoso.com", type = "A", address = "192.0.2.1" } } }
    ]]):format(named.address, named.port))
    local r = support.runbook("run " .. support.quote(path))
    os.execute("rm -rf " .. support.quote(dir))
    assert.equal(1, r.code)
    assert.matches("refusing to send a DNS update while planning", r.err)
    assert.equal("", dig("plan.contoso.com", "A"))
  end)
end)

describe("dns.key", function()
  it("reads tsig-keygen output with quoted or bare names and any case of algorithm", function()
    local cases = {
      { 'key "tsig-test." {\n\talgorithm hmac-sha256;\n\tsecret "QUJD";\n};\n', "tsig-test." },
      { "key tsig-test {\n  algorithm HMAC-SHA512;\n  secret \"QUJD\";\n};\n", "tsig-test" },
      { '# comment\nkey "k" { algorithm "Hmac-Sha1"; secret QUJD; };', "k" },
      { 'key "k2" { /* c */ algorithm hmac-sha256; // c\n secret "QU//JD"; };', "k2", "QU//JD" },
    }
    for _, case in ipairs(cases) do
      local parsed = assert(dns_key.parse(case[1]))
      assert.equal(case[2], parsed.name)
      assert.equal(case[3] or "QUJD", parsed.secret)
      assert.equal(parsed.algorithm:lower(), parsed.algorithm)
    end
  end)

  it("says what is missing, naming the file and not the secret", function()
    local parsed, message = dns_key.parse('key "k" { secret "c2VjcmV0"; };', "/etc/k.key")
    assert.is_nil(parsed)
    assert.matches("/etc/k.key: key k has no algorithm", message, 1, true)
    assert.is_nil(message:find("c2VjcmV0", 1, true))
    assert.is_nil(dns_key.read("/nonexistent/key"))
  end)
end)

describe("dns.update against a forging server #dns", function()
  local pid, pipe, release
  local key = { name = "tsig-test.", algorithm = "hmac-sha256",
                secret = "G6IVv6cgc/7igWNgYzLkKrR9zz6YLEdEL8pABulJoNo=" }

  setup(function()
    release = lab_lock.acquire("dns")
    pipe = io.popen(("exec /usr/bin/python3 tests/lab/dns_forger.py 127.0.53.9 5312 %s %s "
                     .. "& echo $!"):format(key.name, key.secret))
    pid = pipe:read("l")
    assert.equal("ready", pipe:read("l"))
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid) end
    if pipe then pipe:close() end
    release()
  end)

  local function update(zone, changes)
    return task.run(function()
      return dns.update { server = "127.0.53.9", port = 5312, zone = zone, key = key,
        timeout = 0.3, tries = 1, changes = changes or
          { { op = "add", name = "x." .. zone, type = "A", address = "192.0.2.1" } } }
    end)
  end

  it("rejects a NOERROR reply whose TSIG does not verify", function()
    local result, message, code = update("forged.contoso.com")
    assert.is_nil(result)
    assert.equal("badsig", code)
    assert.matches("does not verify", message)
  end)

  it("rejects an unsigned NOERROR reply to a signed update", function()
    local result, message, code = update("unsigned.contoso.com")
    assert.is_nil(result)
    assert.equal("unsigned", code)
    assert.matches("not signed although the update was", message)
  end)

  it("retries over TCP when the UDP reply is truncated, and succeeds there", function()
    local result, message = update("truncated.contoso.com")
    assert.is_truthy(result, message)   -- only the forger's TCP side answers NOERROR
    assert.equal("NOERROR", result.rcode)
  end)

  it("sends an update too big for UDP over TCP, and succeeds there", function()
    local changes = {}
    for i = 1, 12 do
      changes[i] = { op = "add", name = "big.contoso.com", type = "TXT",
                     text = ("record %02d of an update larger than one UDP datagram"):format(i) }
    end
    local result, message = update("big.contoso.com", changes)
    assert.is_truthy(result, message)   -- over UDP the forger answers REFUSED
    assert.equal("NOERROR", result.rcode)
  end)

  it("rejects a correctly signed reply whose TSIG time is two hours off", function()
    local result, message, code = update("skewed.contoso.com")
    assert.is_nil(result)
    assert.equal("badtime", code)
    assert.matches("the reply was signed 7200 s behind this host's clock", message, 1, true)
    assert.matches("synchronize the clocks", message, 1, true)
  end)

  it("ignores a reply with another ID and times out", function()
    local result, _, code = update("wrongid.contoso.com")
    assert.is_nil(result)
    assert.equal("timeout", code)
  end)

  it("closes the socket on a timeout, a bad signature and over TCP, with no collection",
     function()
    without_collector(function()
      local before = open_descriptors()
      task.run(function()
        for _ = 1, 20 do
          for zone, expected in pairs { ["wrongid.contoso.com"] = "timeout",
                                        ["forged.contoso.com"] = "badsig",
                                        ["unsigned.contoso.com"] = "unsigned" } do
            local _, _, code = dns.update { server = "127.0.53.9", port = 5312, zone = zone,
              key = key, timeout = 0.05, tries = 1, changes = { { op = "delete_name",
                                                                   name = "x." .. zone } } }
            assert.equal(expected, code)
          end
          assert(dns.update { server = "127.0.53.9", port = 5312, zone = "truncated.contoso.com",
            key = key, timeout = 1, changes = { { op = "delete_name",
                                                  name = "x.truncated.contoso.com" } } })
        end
      end)
      assert.equal(before, open_descriptors())
    end)
  end)

  it("closes the socket of a cancelled update at once", function()
    without_collector(function()
      local before, during = open_descriptors(), nil
      task.run(function()
        local tasks = {}
        for i = 1, 20 do
          tasks[i] = task.spawn(function()
            return dns.update { server = "127.0.53.9", port = 5312, zone = "wrongid.contoso.com",
              key = key, timeout = 30, changes = { { op = "delete_name",
                                                     name = "x.wrongid.contoso.com" } } }
          end)
        end
        task.sleep(0.1)
        during = open_descriptors()
        for _, t in ipairs(tasks) do t:cancel() end
        for _, t in ipairs(tasks) do assert.is_false((t:join())) end
      end)
      assert.equal(before + 20, during)
      assert.equal(before, open_descriptors())
    end)
  end)

  -- rcode the server answers -> the code, and what the message must say
  local rcodes = {
    { 1, "formerr", "FORMERR: the server could not parse the update" },
    { 2, "servfail", "SERVFAIL: the server failed to apply it" },
    { 3, "nxdomain", "NXDOMAIN: a prerequisite failed" },
    { 4, "notimp", "NOTIMP: the server does not implement dynamic update" },
    { 5, "refused_update", "REFUSED: the server does not allow this update" },
    { 6, "yxdomain", "YXDOMAIN: a prerequisite failed" },
    { 7, "yxrrset", "YXRRSET: a prerequisite failed" },
    { 8, "nxrrset", "NXRRSET: a prerequisite failed" },
    { 9, "notauth", "NOTAUTH: the server is not authoritative for the zone" },
    { 10, "notzone", "NOTZONE: a name in the update is outside the zone" },
    { 11, "unexpected", "RCODE 11: a code that no DNS standard assigns" },
    { 15, "unexpected", "RCODE 15: a code that no DNS standard assigns" },
    { 16, "badsig", "BADSIG: the TSIG signature did not verify" },
    { 17, "badkey", "BADKEY: the server does not know the TSIG key" },
    { 18, "badtime", "BADTIME: the TSIG time is outside the allowed fudge" },
    { 19, "badmode", "BADMODE: the server refused a TKEY mode" },
    { 20, "badname", "BADNAME: the server refused a TKEY key name" },
    { 21, "badalg", "BADALG: the server does not support the key's algorithm" },
    { 22, "badtrunc", "BADTRUNC: the server refused the length of the TSIG MAC" },
    { 23, "badcookie", "BADCOOKIE: the server requires a valid DNS cookie" },
    { 30, "unexpected", "RCODE 30: a code that no DNS standard assigns" },
  }
  for _, case in ipairs(rcodes) do
    it(("says what rcode %d means and names it %s"):format(case[1], case[2]), function()
      local zone = ("rcode-%d.contoso.com"):format(case[1])
      local result, message, code = update(zone)
      assert.is_nil(result)
      assert.equal(case[2], code)
      assert.matches(("dns update of zone %s at 127.0.53.9:5312: answered %s"):format(zone,
                     case[3]), message, 1, true)
      assert.is_nil(message:find("unexpected answer", 1, true))
    end)
  end
end)
