// `npm test`: build the app once (the e2e tests run the built server, as production does), run
// every vitest project, and end with one plain summary line that CI reads.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { relative } from 'node:path'
import { stripVTControlCharacters } from 'node:util'

const args = process.argv.slice(2)
const run = (cmd, cmdArgs) => spawnSync(cmd, cmdArgs, { stdio: 'inherit', env: process.env }).status ?? 1

if (!process.env.OUTPORT_SKIP_BUILD) {
  const status = run('node_modules/.bin/nuxt', ['build'])
  if (status !== 0) {
    console.log('tests: 0 passed, 1 failed')
    process.exit(status)
  }
}

mkdirSync('test-results', { recursive: true })
const report = 'test-results/vitest.json'
rmSync(report, { force: true })
const status = run('node_modules/.bin/vitest', ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args])

let passed = 0
let failed = 1
if (existsSync(report)) {
  const results = JSON.parse(readFileSync(report, 'utf8'))
  passed = results.numPassedTests
  // A file that fails to load counts as a failure even though none of its tests ran.
  failed = results.numFailedTests + results.testResults.filter(f => f.status === 'failed' && f.assertionResults.length === 0).length
  // Named again at the very end, where a CI log's tail shows them.
  for (const file of results.testResults) {
    const name = relative(process.cwd(), file.name)
    if (file.status === 'failed' && file.assertionResults.length === 0) console.log(`failed: ${name} (did not load)`)
    for (const test of file.assertionResults) {
      if (test.status === 'failed') console.log(`failed: ${name} > ${test.fullName}`)
      else if (test.status === 'passed' && test.failureMessages.length > 0) {
        // What the first try failed on: the retry's pass hides it everywhere else.
        const reason = stripVTControlCharacters(test.failureMessages[0]).split('\n').find(line => line.trim()) ?? ''
        console.log(`flaky (passed on its retry): ${name} > ${test.fullName} — first try: ${reason.trim().slice(0, 300)}`)
      }
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed`)
process.exit(status === 0 && failed === 0 ? 0 : (status || 1))
