--- Fail over XMPP federation to another Edge pool (Lync Server 2013 / Skype for Business)
-- Microsoft's procedure "Failing over the Edge pool used for XMPP federation" (JJ688065),
-- step by step, with its omissions put right: see modules/federation.lua.
-- Every value comes from the inventory or --set; adapt it with runbook.extend, not a copy.
local estate = require "estate"
local federation = require "federation"
local runbook = require "runbook"

return runbook.define {
  id = "xmpp-failover",
  title = { en = "Fail over the Edge pool used for XMPP federation",
            de = "Failover für den Edgepool, der für den XMPP-Partnerverbund verwendet wird",
            fr = "Basculement du pool de serveurs Edge utilisé pour la fédération XMPP" },
  params = federation.params("failover"),
  inventory = estate.schema,
  steps = federation.steps(),
}
