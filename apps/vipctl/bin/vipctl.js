#!/usr/bin/env node
// The `vipctl` command (package.json "bin"): runs the build in ../dist. A file that exists before
// the build, so npm links the command at install time, in a clone's workspace too.
import '../dist/main.js';
