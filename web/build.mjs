// Builds the demo dashboard into web/dist: one bundle (yjs, y-protocols,
// socket.io-client, CodeMirror), the stylesheet and the page. `make web` runs it when
// a source is newer than the bundle; `hubbub dev` serves the result at /.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";

const here = new URL(".", import.meta.url).pathname;
await mkdir(`${here}dist`, { recursive: true });
await build({
  entryPoints: [`${here}src/main.js`],
  outfile: `${here}dist/dashboard.js`,
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
});
await copyFile(`${here}src/dashboard.css`, `${here}dist/dashboard.css`);
await copyFile(`${here}src/index.html`, `${here}dist/index.html`);
