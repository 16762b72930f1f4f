// Xen Orchestra's XenAPI client (npm xen-api) pointed at a slave: the login
// answers HOST_IS_SLAVE [master] and the client logs in on the master.
// Usage: node xenapi_slave.mjs SLAVE_URL PASSWORD MASTER_IP   (TAP lines)
import { createClient } from '../e2e/node_modules/xen-api/index.mjs'

const [url, password, master] = process.argv.slice(2)
const xapi = createClient({ url, auth: { user: 'root', password }, allowUnauthorized: true })
try {
  await xapi.connect()
  console.log(xapi.status === 'connected' ? 'ok - connected through the slave' : 'not ok - connected: ' + xapi.status)
  const host = xapi._url.hostname
  console.log(host === master ? 'ok - the client follows HOST_IS_SLAVE to the master' : `not ok - the client is on ${host}, not ${master}`)
  const hosts = await xapi.call('host.get_all')
  console.log(hosts.length === 3 ? 'ok - it sees the pool\'s three hosts' : `not ok - ${hosts.length} hosts`)
  await xapi.disconnect()
} catch (e) {
  console.log('not ok - ' + (e.code || '') + ' ' + e.message)
}
process.exit(0)
