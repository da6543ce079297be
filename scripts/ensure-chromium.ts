/**
 * Run before the tests: the browser tests drive Debian's Chromium. Installs it with apt-get when
 * it is missing and this user may (root), otherwise says what to install.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";

if (!existsSync(CHROMIUM)) {
  if (process.getuid?.() === 0) {
    console.error("installing Debian's chromium for the browser tests");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "inherit", env });
  } else {
    console.error(`the browser tests need ${CHROMIUM}: run \`sudo apt-get install chromium\``);
    process.exit(1);
  }
}
