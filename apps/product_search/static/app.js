// The page's only script: fills the filters, sends the form to /api/search, shows the ranking.
"use strict";

const form = document.getElementById("search-form");
const statusLine = document.getElementById("status");
const table = document.getElementById("results");
let recorded = null;   // a Blob of 16 kHz WAV recorded in the page
let example = null;    // a Blob of the chosen example photo

function setStatus(text, isError) {
  statusLine.textContent = text;
  statusLine.className = isError ? "error" : "";
}

async function init() {
  const health = await (await fetch("/api/health")).json();
  const groups = document.getElementById("group");
  for (const g of health.groups) groups.add(new Option(g, g));
  const examples = await (await fetch("/api/examples")).json();
  const select = document.getElementById("example");
  for (const p of examples.photos) select.add(new Option(p.title, p.url));
  select.addEventListener("change", async () => {
    example = select.value ? await (await fetch(select.value)).blob() : null;
  });
  setStatus(`${health.items} products indexed.`, false);
}

function encodeWav(samples, rate) {
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE"); text(12, "fmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, samples.length * 2, true);
  samples.forEach((x, i) => view.setInt16(44 + i * 2, Math.max(-1, Math.min(1, x)) * 0x7fff, true));
  return new Blob([view], { type: "audio/wav" });
}

document.getElementById("record").addEventListener("click", async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const context = new AudioContext({ sampleRate: 16000 });
    const source = context.createMediaStreamSource(stream);
    const processor = context.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    processor.onaudioprocess = e => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    source.connect(processor); processor.connect(context.destination);
    setStatus("Recording for 2 s ...", false);
    await new Promise(r => setTimeout(r, 2000));
    processor.disconnect(); stream.getTracks().forEach(t => t.stop()); await context.close();
    const samples = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
    let offset = 0; for (const c of chunks) { samples.set(c, offset); offset += c.length; }
    recorded = encodeWav(samples, 16000);
    setStatus("Recorded a 2 s clip; it goes with the next search.", false);
  } catch (err) {
    setStatus(`No microphone: ${err.message}. Upload a 16 kHz WAV instead.`, true);
  }
});

function showResults(answer) {
  const body = table.querySelector("tbody");
  body.replaceChildren();
  answer.results.forEach((r, i) => {
    const row = body.insertRow();
    const cells = [String(i + 1), null, r.title, r.category, r.price.toFixed(2), r.score.toFixed(3),
      Object.entries(r.scores).map(([m, s]) => `${m} ${s.toFixed(2)}`).join(", ")];
    cells.forEach((value, c) => {
      const cell = row.insertCell();
      if (c === 1) {
        const img = document.createElement("img");
        img.src = `/api/items/${r.id}/picture.png`; img.alt = r.title;
        cell.appendChild(img);
      } else {
        cell.textContent = value;
      }
    });
    row.className = "result";
  });
  table.hidden = false;
  const t = answer.timings_ms;
  setStatus(`${answer.results.length} results from ${answer.modalities.join(" + ")} ` +
    `(encode ${t.encode.toFixed(0)} ms, search ${t.search.toFixed(0)} ms).`, false);
}

form.addEventListener("submit", async event => {
  event.preventDefault();
  const data = new FormData();
  const text = document.getElementById("text").value.trim();
  if (text) data.append("text", text);
  const image = document.getElementById("image").files[0] || example;
  if (image) data.append("image", image, image.name || "photo.png");
  const audio = document.getElementById("audio").files[0] || recorded;
  if (audio) data.append("audio", audio, audio.name || "clip.wav");
  const group = document.getElementById("group").value;
  if (group) data.append("group", group);
  const price = document.getElementById("max_price").value;
  if (price) data.append("max_price", price);
  setStatus("Searching ...", false);
  const response = await fetch("/api/search", { method: "POST", body: data });
  const answer = await response.json();
  if (!response.ok) {
    table.hidden = true;
    setStatus(`Error ${response.status}: ${typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail)}`, true);
    return;
  }
  showResults(answer);
});

init().catch(err => setStatus(`The service did not answer: ${err.message}`, true));
