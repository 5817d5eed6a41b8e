import { defineConfig } from "vite";

export default defineConfig({
  // Served below a folder (`/demo/web-app/`), so assets are linked relatively.
  base: "./",
  // The app waits for the package's `init()` at the top level.
  build: { target: "es2022" },
});
