--- Return XMPP federation to the original Edge pool once it is healthy again
-- The same steps and the same safety as xmpp-failover, towards inventory.failover.from_pool.
-- (The published failback text repeats "EdgeServer2" where it means the original pool's
-- server: here the target is always the original pool, from the inventory.)
local estate = require "estate"
local federation = require "federation"
local runbook = require "runbook"

return runbook.define {
  id = "xmpp-failback",
  title = { en = "Fail back XMPP federation to the original Edge pool",
            de = "XMPP-Partnerverbund auf den ursprünglichen Edgepool zurückführen",
            fr = "Rétablir la fédération XMPP sur le pool de serveurs Edge d’origine" },
  params = federation.params("failback"),
  inventory = estate.schema,
  steps = federation.steps("failback"),
}
