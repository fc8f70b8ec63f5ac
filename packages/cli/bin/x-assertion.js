#!/usr/bin/env node
// CommonJS (bin/package.json): see scripts/bundle.mjs for why the CLI starts from one CommonJS file.
'use strict';

require('../dist/x-assertion.cjs')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
