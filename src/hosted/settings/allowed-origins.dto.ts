import { ArrayMaxSize, IsArray, IsString, Matches } from 'class-validator';

export class AllowedOriginsDto {
  /**
   * The origins (`https://shop.example`, no path) whose pages may frame the hosted checkout; they become
   * the page's Content-Security-Policy frame-ancestors. An empty list: only Paybridge's own origin.
   */
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @Matches(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i, { each: true, message: 'each origin is scheme://host[:port], nothing more' })
  origins!: string[];
}
