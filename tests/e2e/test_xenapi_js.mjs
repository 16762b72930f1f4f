// Xen Orchestra's XenAPI client (npm xen-api) against xapid: connect (JSON-RPC
// probe, 2-argument login), cache every object through event.inject +
// get_all_records + event.from, watch events, set a field, run a task.
// Usage: node test_xenapi_js.mjs URL PASSWORD   (TAP output)
import { createClient } from 'xen-api'

const [url, password] = process.argv.slice(2)
let n = 0
let failed = 0
function ok(cond, name, diag) {
  n++
  if (cond) console.log(`ok ${n} - ${name}`)
  else {
    failed++
    console.log(`not ok ${n} - ${name}`)
    if (diag !== undefined) console.log('# ' + String(diag).replace(/\n/g, '\n# '))
  }
}
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
async function waitFor(pred, ms = 10000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (pred()) return true
    await sleep(50)
  }
  return pred()
}

const xapi = createClient({ url, auth: { user: 'root', password }, allowUnauthorized: true })
const timer = setTimeout(() => {
  console.log('not ok - timed out')
  process.exit(1)
}, 60000)
try {
  await xapi.connect()
  ok(xapi.status === 'connected', 'connected', xapi.status)
  ok(xapi.pool !== undefined && xapi.pool.$type === 'pool', 'pool cached')
  await xapi.objectsFetched
  const all = Object.values(xapi.objects.all)
  ok(all.some(o => o.$type === 'host'), 'host objects cached')
  ok(all.some(o => o.$type === 'VM' && o.is_control_domain), 'control domain cached')

  // a field set through the client shows up through the event loop
  await xapi.call('pool.set_name_label', xapi.pool.$ref, 'from-xo')
  ok(await waitFor(() => xapi.pool.name_label === 'from-xo'), 'event updates the cached pool', xapi.pool.name_label)
  await xapi.setField('pool', xapi.pool.$ref, 'name_description', 'set by xen-api')
  ok(await waitFor(() => xapi.pool.name_description === 'set by xen-api'), 'setField')

  // a new object appears in the cache
  const netRef = await xapi.call('network.create', {
    name_label: 'js-net', name_description: '', MTU: 1500, other_config: {}, bridge: 'xjs0',
  })
  ok(await waitFor(() => xapi.getObjectByRef(netRef, undefined) !== undefined), 'created network arrives by event')
  await xapi.call('network.destroy', netRef)
  ok(await waitFor(() => xapi.getObjectByRef(netRef, undefined) === undefined), 'destroyed network leaves the cache')

  // an Async call settled through task events
  const ref2 = await xapi.callAsync('network.create', {
    name_label: 'js-net2', name_description: '', MTU: 1500, other_config: {}, bridge: 'xjs1',
  })
  ok(typeof ref2 === 'string' && ref2.startsWith('OpaqueRef:'), 'callAsync result from the task', ref2)

  // errors come back as XapiError with code and params
  try {
    await xapi.call('VM.get_record', 'OpaqueRef:nope')
    ok(false, 'HANDLE_INVALID raised')
  } catch (e) {
    ok(e.code === 'HANDLE_INVALID' && e.params[0] === 'VM', 'HANDLE_INVALID raised', e)
  }
  await xapi.barrier()
  ok(true, 'barrier (pool other_config round trip)')
} catch (e) {
  ok(false, 'no exception', e && e.stack)
} finally {
  clearTimeout(timer)
  try { await xapi.disconnect() } catch {}
}
console.log(`1..${n}`)
process.exit(failed ? 1 : 0)
