export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function spread (values: readonly number[]): { median: number, min: number, max: number } {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) }
}

/** Right-aligned/left-aligned plain-text table (first column left, the rest right). */
export function table (rows: string[][]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map(row => (row[col] ?? '').length)))
  return rows.map(row => row.map((cell, col) => col <= 1 ? cell.padEnd(widths[col]) : cell.padStart(widths[col])).join('  ').trimEnd()).join('\n')
}
